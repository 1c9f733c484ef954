"""Reading names inside a cluster zone as CoreDNS's kubernetes plugin reads them.

A name is the zone's apex, `svc` or `pod` (apex-like: no record, but it exists), or
`[[_port._proto.|endpoint.]service.]namespace.(svc|pod)`, and in a multicluster zone also
`endpoint.clusterid.service.namespace.svc`. Anything else is invalid, which the
plugin answers NXDOMAIN. Leading underscores are stripped if present, wildcards are not
special (CoreDNS 1.9 removed them), and three or more labels left of the service are invalid.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from kdns.corefile.syntax import in_zone as _in_zone
from kdns.corefile.syntax import longest_zone

SVC, POD = "svc", "pod"
#: The owner of the NS glue records when the server is not an endpoint of a Service.
DEFAULT_NS = "ns.dns."
_ARPA4, _ARPA6 = ".in-addr.arpa.", ".ip6.arpa."


@dataclass(frozen=True, slots=True)
class RecordRequest:
    """A parsed cluster name; `pod_or_svc` is "" for the apex-like names (`svc.<zone>`)."""

    pod_or_svc: str = ""
    namespace: str = ""
    #: The service name, or for `pod` names the dashed pod IP label.
    service: str = ""
    endpoint: str = ""
    port: str = ""
    protocol: str = ""
    #: The cluster id of an endpoint name in a multicluster zone (`endpoint.cluster.svc...`).
    cluster: str = ""


def match_zone(zones: tuple[str, ...], qname: str) -> str | None:
    """Return the longest of `zones` that a lower-case, fully qualified name falls in."""
    return longest_zone(qname, zones)


def in_zone(zone: str, name: str) -> bool:
    """Tell whether `name` equals or lies below `zone`, ignoring case (dns.IsSubDomain)."""
    return _in_zone(name.lower(), zone.lower())


def join(*parts: str) -> str:
    """Join labels and, last, a fully qualified zone into one name (the root adds nothing)."""
    *labels, zone = parts
    head = ".".join(labels)
    if not head:
        return zone
    return head + "." if zone == "." else head + "." + zone


def trim_zone(name: str, zone: str) -> str:
    """Return what is left of `name` (fully qualified) after removing `zone`, without dots."""
    return name[: len(name) - len(zone)].strip(".")


def _underscore(label: str) -> str:
    return label[1:] if label.startswith("_") else label


def parse_request(base: str, multicluster: bool = False) -> RecordRequest | None:
    """Parse the part of a query name left of the zone; None means the name is invalid.

    In a multicluster zone two labels left of the service without a leading underscore are
    `<endpoint>.<clusterid>`; with one, or in any other zone, they are `_<port>._<proto>`.
    """
    if base in ("", SVC, POD):
        return RecordRequest()
    segs = base.split(".")
    kind = segs.pop()
    if kind not in (SVC, POD):
        return None
    if not segs:
        return RecordRequest(kind)
    namespace = segs.pop()
    if not segs:
        return RecordRequest(kind, namespace)
    service = segs.pop()
    if not segs:
        return RecordRequest(kind, namespace, service)
    if len(segs) == 1:
        return RecordRequest(kind, namespace, service, endpoint=segs[0])
    if len(segs) == 2 and multicluster and not any(x.startswith("_") for x in segs):
        return RecordRequest(kind, namespace, service, endpoint=segs[0], cluster=segs[1])
    if len(segs) == 2:
        return RecordRequest(
            kind, namespace, service, port=_underscore(segs[0]), protocol=_underscore(segs[1])
        )
    return None


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Parse an IP address as Go's net.ParseIP does (no zone index, no leading zeros)."""
    if "%" in text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_ipv4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Tell whether Go would call `ip` IPv4 (To4 != nil), counting IPv4-mapped IPv6."""
    return ip.version == 4 or (isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None)


def pod_ip_text(label: str) -> str:
    """Turn a dashed pod label into IP text: `10-0-0-1` is IPv4, anything else IPv6."""
    if label.count("-") == 3 and "--" not in label:
        return label.replace("-", ".")
    return label.replace("-", ":")


def endpoint_name(ip: str, hostname: str, pod_name: str, pod_names: bool) -> str:
    """Name an endpoint: its hostname, else (with endpoint_pod_names) the pod name, else dashes.

    The pod name is used only when shorter than 64 characters (a DNS label's limit). An IPv6
    name ending in `-` gets a `0` so it stays a valid label.
    """
    if hostname:
        return hostname
    if pod_names and pod_name and len(pod_name) < 64:
        return pod_name
    if "." in ip:
        return ip.replace(".", "-")
    if ":" in ip:
        dashed = ip.replace(":", "-")
        return dashed + "0" if dashed.endswith("-") else dashed
    return ""


def is_reverse_name(name: str) -> bool:
    """Tell whether a lower-case, fully qualified name lies under in-addr.arpa or ip6.arpa."""
    return name.endswith((_ARPA4, _ARPA6))


def address_from_reverse(name: str) -> str | None:
    """Return the canonical IP a full reverse name stands for, or None (partial, not reverse)."""
    if name.endswith(_ARPA4):
        labels = name[: -len(_ARPA4)].split(".")[::-1]
        ip = parse_ip(".".join(labels))
        return str(ip) if isinstance(ip, ipaddress.IPv4Address) else None
    if name.endswith(_ARPA6):
        labels = name[: -len(_ARPA6)].split(".")[::-1]
        groups = ["".join(labels[i * 4 : i * 4 + 4]) for i in range(len(labels) // 4)]
        ip = parse_ip(":".join(groups))
        if ip is None:
            return None
        # Go prints an IPv4-mapped address in dotted form.
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        return str(mapped or ip)
    return None
