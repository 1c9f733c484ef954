"""The search path of a client Pod, for `autopath @kubernetes` (CoreDNS's AutoPath).

Only with `pods verified` (the pod watch), only for names inside the plugin's zones, and only
when the query's source address is a known Pod's IP: then the path is `<pod-ns>.svc.<zone>`,
`svc.<zone>`, `<zone>` and the search domains of the server's own resolv.conf.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from kdns.plugins.autopath.capability import resolv_search
from kdns.plugins.kubernetes.config import KubernetesConfig
from kdns.plugins.kubernetes.index import Index
from kdns.plugins.kubernetes.names import SVC, join, match_zone

#: The resolver configuration whose search domains end every client's path.
RESOLV_CONF = "/etc/resolv.conf"


def client_ip(text: str) -> str | None:
    """Return a source address as the pod index holds IPs (IPv4-mapped IPv6 as IPv4)."""
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return str(mapped or ip)


def search_path(
    index: Index,
    config: KubernetesConfig,
    qname: str,
    remote_ip: str,
    extra: tuple[str, ...] = (),
) -> list[str] | None:
    """Return the search path of the Pod at `remote_ip` for `qname`, or None (no autopath)."""
    if config.pods != "verified":
        return None
    zone = match_zone(config.zones, qname)
    ip = client_ip(remote_ip)
    if zone is None or ip is None:
        return None
    pod = index.pod_at(ip)
    if pod is None:
        return None
    return [join(pod.namespace, SVC, zone), join(SVC, zone), zone, *extra]


def read_search(path: str = RESOLV_CONF) -> tuple[str, ...]:
    """Return the search domains of a resolv.conf file; none when it cannot be read."""
    try:
        return tuple(resolv_search(Path(path).read_text()))
    except (OSError, UnicodeDecodeError):
        return ()
