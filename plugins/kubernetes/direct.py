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

    __slots__ = ("listed", "ttl", "zones")

    def __init__(self, config: KubernetesConfig) -> None:
        #: Every zone of the plugin in wire form, and whether its Services are answered here.
        wires = {_wire(zone): zone.lower() for zone in config.zones}
        self.zones = {
            wire: zone not in config.multicluster
            and not config.ignore_empty_service
            and not wire.endswith(_ARPA)  # reverse names are never Services
            for wire, zone in wires.items()
        }
        self.listed = frozenset(config.namespaces)
        self.ttl = config.ttl.to_bytes(4, "big")

    def reply(self, index: Index, key: Key, wire: bytes) -> tuple[bytes, Scope] | None:
        """Return the reply to raw query `wire` (key `key`) and the scope it depends on, or
        None when the general way must compute it."""
        qname, qtype, qclass = key[0], key[1], key[2]
        if (qtype != A and qtype != AAAA) or qclass != IN or not qname[0]:
            return None
        # service . namespace . svc . zone, the zone being the longest of the plugin's
        at = qname[0] + 1
        end = at + qname[at] + 1
        zone = qname[end + 4 :]
        if qname[end : end + 4] != _SVC or not self.zones.get(zone, False):
            return None
        zones = self.zones
        if qname in zones or qname[at:] in zones or qname[end:] in zones:
            return None
        service, namespace = qname[1:at], qname[at + 1 : end]
        if service in _WILDCARDS or namespace in _WILDCARDS:
            return None
        # latin-1 never fails; a byte no Service or namespace name has finds nothing below
        ns = namespace.decode("latin-1")
        if (self.listed and ns not in self.listed) or not index.has_namespace(ns):
            return None
        svc = index.service(ns, service.decode("latin-1"))
        if svc is None or svc.kind != "ClusterIP":
            return None
        records: list[bytes] = []
        ips = svc.cluster_ips
        head = (_HEAD_A if qtype == A else _HEAD_AAAA) + self.ttl
        for n, text in enumerate(ips):
            packed = _packed(text)
            if packed is None:
                return None
            if (len(packed) == 4) != (qtype == A) or text in ips[:n]:
                continue
            records.append(head + (b"\x00\x04" if len(packed) == 4 else b"\x00\x10") + packed)
        if not records:
            return None
        qend = 12 + len(qname)
        opt = (OPT_DO if key[3] else OPT_PLAIN) if wire[11] else b""  # as the writer adds it
        reply = b"".join(
            (
                wire[0:2],
                bytes((0x84 | (wire[2] & 0x79), wire[3] & 0x10)),  # QR AA, the client's RD CD
                b"\x00\x01",
                len(records).to_bytes(2, "big"),
                b"\x00\x00\x00\x01" if opt else b"\x00\x00\x00\x00",
                wire[12 : qend + 4],
                *records,
                opt,
            )
        )
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
