"""What the kubernetes plugin publishes about a query for *metadata* (CoreDNS's Metadata).

CoreDNS's rules, kept here: with `pods verified`, a client whose source address is a known
Pod's IP gets `kubernetes/client-namespace` and `kubernetes/client-pod-name`, whatever the name
asked. A name inside one of the plugin's zones is then read as the plugin reads it
(names.py): `kubernetes/kind` (`svc` or `pod`), `kubernetes/namespace`, `kubernetes/service`
(for a `pod` name, the dashed IP label), `kubernetes/endpoint`, `kubernetes/port-name` and
`kubernetes/protocol` (an SRV name's `_port._proto`, underscores stripped), each "" when the
name has no such part, and `kubernetes/cluster` in a multicluster zone. A name the plugin
cannot read gets `kubernetes/parse-error` alone; a name outside its zones gets nothing more.
"""

from __future__ import annotations

from kdns.plugins.kubernetes.autopath import client_ip
from kdns.plugins.kubernetes.config import KubernetesConfig
from kdns.plugins.kubernetes.index import Index
from kdns.plugins.kubernetes.names import match_zone, parse_request, trim_zone

#: CoreDNS's errInvalidRequest, the value of `kubernetes/parse-error`.
INVALID = "invalid query name"


def request_metadata(
    index: Index, config: KubernetesConfig, qname: str, remote_ip: str
) -> dict[str, str]:
    """Return the `kubernetes/...` labels for a query of `qname` (lower case) from `remote_ip`."""
    out: dict[str, str] = {}
    if config.pods == "verified":
        ip = client_ip(remote_ip)
        pod = index.pod_at(ip) if ip is not None else None
        if pod is not None:
            out["kubernetes/client-namespace"] = pod.namespace
            out["kubernetes/client-pod-name"] = pod.name
    zone = match_zone(config.zones, qname)
    if zone is None:
        return out
    multicluster = config.is_multicluster(zone)
    parsed = parse_request(trim_zone(qname, zone), multicluster)
    if parsed is None:
        out["kubernetes/parse-error"] = INVALID
        return out
    out["kubernetes/port-name"] = parsed.port
    out["kubernetes/protocol"] = parsed.protocol
    out["kubernetes/endpoint"] = parsed.endpoint
    if multicluster:
        out["kubernetes/cluster"] = parsed.cluster
    out["kubernetes/service"] = parsed.service
    out["kubernetes/namespace"] = parsed.namespace
    out["kubernetes/kind"] = parsed.pod_or_svc
    return out
