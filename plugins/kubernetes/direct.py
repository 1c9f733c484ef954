"""Cold answers packed straight from the index: the A or AAAA reply of a ClusterIP Service.

The first query of a name is otherwise computed the general way (records.py builds dnslib
records, the handler packs the reply, answers.py files it), about 130 µs in Python. The most
common first query, `service.namespace.svc.<zone>` for A or AAAA, is packed here from the
index in a few microseconds, as the reply to the very query bytes: exactly what the general
way's ready answer renders for them (tests/plugins/test_kubernetes_direct.py compares both).
Such replies are not filed: packing one again costs about what rendering a filed one does, and
the hot table keeps the bytes (fresh until a change of the Service, answers.Held). Everything
else returns None and goes the general way: other types, endpoint and port names, headless and
ExternalName Services, a Service without an address of the family (NODATA) or with two of one,
multicluster zones, `ignore empty_service`.
"""

from __future__ import annotations

import socket
from typing import Final

from kdns.plugins.kubernetes.answers import WILDCARDS
from kdns.plugins.kubernetes.config import KubernetesConfig
from kdns.plugins.kubernetes.index import Index
from kdns.plugins.kubernetes.names import is_ipv4, parse_ip
from kdns.plugins.kubernetes.scopes import Scope
from kdns.plugins.wire import OPT_DO, OPT_PLAIN, Key, name_wire

A: Final = 1
AAAA: Final = 28
IN: Final = 1
_SVC: Final = b"\x03svc"
_ARPA: Final = b"\x04arpa\x00"
#: An answer's owner (the question's name), type and class.
_HEAD_A: Final = b"\xc0\x0c\x00\x01\x00\x01"
_HEAD_AAAA: Final = b"\xc0\x0c\x00\x1c\x00\x01"
_WILDCARDS: Final = tuple(w.encode() for w in WILDCARDS)
_WILDCARD_LEN: Final = max(len(w) for w in WILDCARDS)
_AF_INET: Final = socket.AF_INET
_inet_pton: Final = socket.inet_pton


class Direct:
    """Packs Service address answers for one kubernetes configuration."""

    __slots__ = ("head_a", "head_aaaa", "listed", "nested", "zones")

    def __init__(self, config: KubernetesConfig) -> None:
        #: Every zone of the plugin in wire form, and whether its Services are answered here.
        wires = {_wire(zone): zone.lower() for zone in config.zones}
        self.zones = {
            wire: zone not in config.multicluster
            and not config.ignore_empty_service
            and not wire.endswith(_ARPA)  # reverse names are never Services
            for wire, zone in wires.items()
        }
        #: Some zone may lie under another (the bytes of one end another's: a label boundary
        #: or not, checking is only slower): a name is then checked against the longer ones.
        self.nested = any(a != b and a.endswith(b) for a in self.zones for b in self.zones)
        self.listed = frozenset(config.namespaces)
        #: An A and an AAAA answer record's bytes before the address.
        ttl = config.ttl.to_bytes(4, "big")
        self.head_a = _HEAD_A + ttl + b"\x00\x04"
        self.head_aaaa = _HEAD_AAAA + ttl + b"\x00\x10"

    def reply(self, index: Index, key: Key, wire: bytes) -> tuple[bytes, Scope] | None:
        """Return the reply to raw query `wire` (key `key`) and the scope it depends on, or
        None when the general way must compute it."""
        qname, qtype = key[0], key[1]
        if qtype == A:
            head, size = self.head_a, 4
        elif qtype == AAAA:
            head, size = self.head_aaaa, 16
        else:
            return None
        if key[2] != IN or not qname[0]:
            return None
        # service . namespace . svc . zone, the zone being the longest of the plugin's
        at = qname[0] + 1
        end = at + qname[at] + 1
        zone = qname[end + 4 :]
        if qname[end : end + 4] != _SVC or not self.zones.get(zone, False):
            return None
        zones = self.zones
        if self.nested and (qname in zones or qname[at:] in zones or qname[end:] in zones):
            return None
        service, namespace = qname[1:at], qname[at + 1 : end]
        if _wildcard(service) or _wildcard(namespace):
            return None
        # latin-1 never fails; a byte no Service or namespace name has finds nothing below
        # (the index's tables read as has_namespace and service do: a method call costs more)
        ns = namespace.decode("latin-1")
        if (self.listed and ns not in self.listed) or ns not in index.namespaces:
            return None
        scope = (ns, service.decode("latin-1"))  # the index's key, and the Service's scope
        svc = index.services.get(scope)
        if svc is None or svc.kind != "ClusterIP":
            return None
        address = None
        for text in svc.cluster_ips:
            packed = _packed(text)
            if packed is None:
                return None
            if len(packed) == size:
                if address is not None:
                    return None  # two of one family (the API allows one): the general way
                address = packed
        if address is None:
            return None
        opt = wire[11]
        rest = (OPT_DO if key[3] else OPT_PLAIN) if opt else b""  # as the writer adds it
        header = _HEADERS[(wire[2] & 1) | (key[4] << 1) | (4 if opt else 0)]
        question = wire[12 : 16 + len(qname)]
        reply = b"".join((wire[0:2], header, question, head, address, rest))
        return reply, scope


def _header(rd: int, cd: int, opt: int) -> bytes:
    """A reply's header after the ID: QR AA and the client's RD and CD (query_key let only
    opcode QUERY through); one question, one answer, the OPT if any."""
    return bytes((0x84 | rd, cd << 4, 0, 1, 0, 1, 0, 0, 0, opt))


#: The header by the query's RD bit, CD bit (key[4]) and OPT (in that order, low bit first).
_HEADERS: Final = [_header(n & 1, n >> 1 & 1, n >> 2) for n in range(8)]


def _wildcard(label: bytes) -> bool:
    """Tell whether a label is a wildcard (the length first: most labels are longer)."""
    return len(label) <= _WILDCARD_LEN and label in _WILDCARDS


def _packed(text: str) -> bytes | None:
    """Return an address as its A (4 bytes) or AAAA (16 bytes) data, as records.ip_rr packs
    it (IPv4-mapped IPv6 is IPv4, as in Go); None if it is not an address."""
    if ":" not in text:
        try:
            return _inet_pton(_AF_INET, text)  # no leading zeros, as Go and ipaddress
        except OSError:
            return None
    ip = parse_ip(text)
    if ip is None:
        return None
    if is_ipv4(ip):
        return (getattr(ip, "ipv4_mapped", None) or ip).packed
    return ip.packed


def _wire(zone: str) -> bytes:
    return name_wire(tuple(x.encode() for x in zone.lower().rstrip(".").split(".") if x))
