"""Cold answers packed straight from the index: the A or AAAA reply of a ClusterIP Service.

The first query of a name is otherwise computed the general way (records.py builds dnslib
records, the handler packs the reply, answers.py files it), about 130 µs in Python. The most
common first query, `service.namespace.svc.<zone>` for A or AAAA, is packed here from the
index in a few microseconds, as the reply to the very query bytes: exactly what the general
way's ready answer renders for them (tests/plugins/test_kubernetes_direct.py compares both).
Such replies are not filed: packing one again costs about what rendering a filed one does, and
the hot table keeps the bytes (fresh until a change of the Service, answers.Held). Everything
else returns None and goes the general way: other types, endpoint and port names, headless and
ExternalName Services, a Service without an address of the family (NODATA), multicluster zones,
`ignore empty_service`.
"""

from __future__ import annotations

import socket

from kdns.plugins.kubernetes.answers import WILDCARDS
from kdns.plugins.kubernetes.config import KubernetesConfig
from kdns.plugins.kubernetes.index import Index, Scope, service_scope
from kdns.plugins.kubernetes.names import is_ipv4, parse_ip
from kdns.plugins.wire import OPT_DO, OPT_PLAIN, Key, name_wire

A, AAAA, IN = 1, 28, 1
_SVC = b"\x03svc"
_ARPA = b"\x04arpa\x00"
#: An answer's owner (the question's name), type and class.
_HEAD_A, _HEAD_AAAA = b"\xc0\x0c\x00\x01\x00\x01", b"\xc0\x0c\x00\x1c\x00\x01"
_WILDCARDS = frozenset(w.encode() for w in WILDCARDS)


class Direct:
    """Packs Service address answers for one kubernetes configuration."""

    __slots__ = ("heads", "listed", "nested", "zones")

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
        #: An answer record's bytes before the address, by type.
        ttl = config.ttl.to_bytes(4, "big")
        self.heads = {A: _HEAD_A + ttl + b"\x00\x04", AAAA: _HEAD_AAAA + ttl + b"\x00\x10"}

    def reply(self, index: Index, key: Key, wire: bytes) -> tuple[bytes, Scope] | None:
        """Return the reply to raw query `wire` (key `key`) and the scope it depends on, or
        None when the general way must compute it."""
        qname, head = key[0], self.heads.get(key[1])
        if head is None or key[2] != IN or not qname[0]:
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
        if service in _WILDCARDS or namespace in _WILDCARDS:
            return None
        # latin-1 never fails; a byte no Service or namespace name has finds nothing below
        # (the index's tables read as has_namespace and service do: a method call costs more)
        ns = namespace.decode("latin-1")
        if (self.listed and ns not in self.listed) or ns not in index.namespaces:
            return None
        svc = index.services.get((ns, service.decode("latin-1")))
        if svc is None or svc.kind != "ClusterIP":
            return None
        records: list[bytes] = []
        ips = svc.cluster_ips  # at most one per family
        size = 4 if key[1] == A else 16
        for n, text in enumerate(ips):
            packed = _packed(text)
            if packed is None:
                return None
            if len(packed) == size and (not n or text not in ips[:n]):
                records.append(head + packed)
        if not records:
            return None
        opt = (OPT_DO if key[3] else OPT_PLAIN) if wire[11] else b""  # as the writer adds it
        # QR AA and the client's RD CD; one question, the answers, the OPT if any
        flags = (0x84 | (wire[2] & 0x79), wire[3] & 0x10)
        counts = (0, 1, 0, len(records), 0, 0, 0, 1 if opt else 0)
        question = wire[12 : 16 + len(qname)]
        reply = b"".join((wire[0:2], bytes((*flags, *counts)), question, *records, opt))
        return reply, service_scope(ns, svc.name)


def _packed(text: str) -> bytes | None:
    """Return an address as its A (4 bytes) or AAAA (16 bytes) data, as records.ip_rr packs
    it (IPv4-mapped IPv6 is IPv4, as in Go); None if it is not an address."""
    if ":" not in text:
        try:
            return socket.inet_pton(socket.AF_INET, text)  # no leading zeros, as Go and ipaddress
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
