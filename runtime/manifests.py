"""The Kubernetes objects `kdns deploy` prints, built as plain dictionaries from a loaded Corefile.

Everything here is pure: the Corefile text and model, the options and the cluster IP come in,
manifests (dicts ready for YAML) come out. What the objects need is read from the Corefile
model, not assumed: the RBAC rules are the kinds the kubernetes plugin watches for that
configuration (plus Pods for `autopath @kubernetes`), the probes follow `health` and `ready`,
the metrics port follows `prometheus`, the grace period follows the `health` lameduck.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from kdns.corefile import Corefile
from kdns.plugins.autopath.config import AutopathConfig
from kdns.plugins.health.config import HealthConfig
from kdns.plugins.kubernetes.config import KubernetesConfig, PodMode, watched_kinds
from kdns.plugins.prometheus.config import PrometheusConfig
from kdns.plugins.ready.config import ReadyConfig

Manifest = dict[str, Any]

#: The label the kube-dns Service selects and every cluster DNS addon keeps (kubeadm, GKE).
#: The Deployment selects on it alone, as kubeadm's CoreDNS Deployment does (a selector cannot
#: be changed, so `kubectl apply` can replace that Deployment in place).
APP_LABELS = {"k8s-app": "kube-dns"}
#: kdns's own pods: the PodDisruptionBudget covers these only, never another DNS addon's pods
#: (an eviction fails for a pod that two budgets cover). No object carries the addon manager's
#: labels (`addonmanager.kubernetes.io/mode`, the deprecated `kubernetes.io/cluster-service`):
#: with them, an addon manager prunes what is not in its own folder.
POD_LABELS = {**APP_LABELS, "app.kubernetes.io/name": "kdns"}
#: Where the ConfigMap is mounted and the Corefile read, as kubeadm's CoreDNS does.
CONFIG_DIR = "/etc/coredns"
#: The kind the kubernetes plugin watches -> (API group, resource) an RBAC rule names.
RESOURCES = {
    "Namespace": ("", "namespaces"),
    "Service": ("", "services"),
    "Pod": ("", "pods"),
    "EndpointSlice": ("discovery.k8s.io", "endpointslices"),
    "MultiClusterEndpointSlice": ("discovery.k8s.io", "endpointslices"),
    "ServiceImport": ("multicluster.x-k8s.io", "serviceimports"),
}

# The memory model (docs/performance.md; bench/k8s_scale.py measures it): kdns idles at about
# 80 MiB with no cluster objects; Services and EndpointSlice endpoints cost ~0.55 MiB per
# thousand (126 MiB steady for the 5,000-node shape: 8,200 Services, 75,000 endpoints, `pods
# insecure`); `pods verified` adds ~0.31 MiB per thousand Pods (172 MiB with its 150,000 Pods);
# a full re-list (410 Gone, the 15-minute resync) peaks at up to 1.18x the steady figure.
BASELINE_MIB = 80.0
PER_1000_OBJECTS_MIB = 0.55
PER_1000_PODS_MIB = 0.31
RELIST_PEAK = 1.2
#: Room above the re-list peak for the answers and caches built as names are asked.
ANSWER_ROOM_MIB = 32.0
#: The 5,000-node shape of bench/k8s_shape.py (Kubernetes' largest supported cluster).
DEFAULT_SERVICES, DEFAULT_PODS = 8200, 150_000


@dataclass(frozen=True, slots=True)
class DeployOptions:
    """What `kdns deploy` was asked for, apart from the Corefile itself."""

    cluster_ip: str
    namespace: str = "kube-system"
    name: str = "coredns"
    service_name: str = "kube-dns"
    replicas: int = 2
    image: str = "kdns:latest"
    service: bool = True
    services: int = DEFAULT_SERVICES
    pods: int = DEFAULT_PODS


@dataclass(frozen=True, slots=True)
class Needs:
    """What a Corefile asks of its Pod: API access, ports, probes."""

    #: (API group, resource) pairs to list and watch, in a stable order.
    resources: tuple[tuple[str, str], ...]
    dns_port: int
    health: HealthConfig | None
    ready: ReadyConfig | None
    metrics_port: int | None
    pods_verified: bool


def corefile_text(
    service_cidrs: tuple[str, ...],
    domain: str,
    pods: PodMode = "insecure",
    upstreams: tuple[str, ...] = ("/etc/resolv.conf",),
) -> str:
    """Return kubeadm's default Corefile for `domain`, with the service CIDRs as reverse zones."""
    zones = " ".join((domain, *service_cidrs, "in-addr.arpa", "ip6.arpa"))
    return (
        ".:53 {\n"
        "    errors\n"
        "    health {\n"
        "        lameduck 5s\n"
        "    }\n"
        "    ready\n"
        f"    kubernetes {zones} {{\n"
        f"        pods {pods}\n"
        "        fallthrough in-addr.arpa ip6.arpa\n"
        "        ttl 30\n"
        "    }\n"
        "    prometheus :9153\n"
        f"    forward . {' '.join(upstreams)} {{\n"
        "        max_concurrent 1000\n"
        "    }\n"
        "    cache 30\n"
        "    loop\n"
        "    reload\n"
        "    loadbalance\n"
        "}\n"
    )


def needs(model: Corefile) -> Needs:
    """Read what the Pod must be given from a loaded Corefile."""
    wanted: set[tuple[str, str]] = set()
    ports: list[int] = []
    health: HealthConfig | None = None
    ready: ReadyConfig | None = None
    metrics: int | None = None
    verified = False
    for block in model.servers:
        ports += [a.port for a in block.addresses if a.transport == "dns"]
        for entry in block.plugins:
            config = entry.config
            if isinstance(config, KubernetesConfig):
                wanted.update(RESOURCES[kind] for kind in watched_kinds(config))
                verified = verified or config.pods == "verified"
            elif isinstance(config, AutopathConfig) and config.plugin == "kubernetes":
                wanted.add(RESOURCES["Pod"])
            elif isinstance(config, HealthConfig):
                health = health or config
            elif isinstance(config, ReadyConfig):
                ready = ready or config
            elif isinstance(config, PrometheusConfig):
                metrics = metrics or config.port
    dns_port = 53 if 53 in ports or not ports else ports[0]
    return Needs(tuple(sorted(wanted)), dns_port, health, ready, metrics, verified)


def memory_mib(options: DeployOptions, verified: bool) -> tuple[int, int]:
    """Return (request, limit) in MiB from the memory model, rounded up to 16 MiB."""
    endpoints = options.pods / 2  # the 5,000-node shape: 75,000 endpoints for 150,000 Pods
    steady = BASELINE_MIB + PER_1000_OBJECTS_MIB * (options.services + endpoints) / 1000
    if verified:
        steady += PER_1000_PODS_MIB * options.pods / 1000
    limit = steady * RELIST_PEAK + ANSWER_ROOM_MIB
    return _round16(steady), _round16(limit)


def _round16(mib: float) -> int:
    return 16 * math.ceil(mib / 16)


def _meta(name: str, namespace: str | None, labels: dict[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = {**APP_LABELS, "app.kubernetes.io/name": "kdns", **labels}
    return meta


def config_map(corefile: str, options: DeployOptions) -> Manifest:
    """Return the ConfigMap holding the Corefile."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(options.name, options.namespace, {}),
        "data": {"Corefile": corefile},
    }


def rbac(need: Needs, options: DeployOptions) -> list[Manifest]:
    """Return the ServiceAccount, and the ClusterRole and binding when the API is watched."""
    account: Manifest = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(options.name, options.namespace, {}),
    }
    if not need.resources:
        account["automountServiceAccountToken"] = False  # no kubernetes plugin: no API access
        return [account]
    groups: dict[str, list[str]] = {}
    for group, resource in need.resources:
        groups.setdefault(group, []).append(resource)
    rules = [
        {"apiGroups": [group], "resources": resources, "verbs": ["list", "watch"]}
        for group, resources in groups.items()
    ]
    role_name = f"system:{options.name}"
    role: Manifest = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": _meta(role_name, None, {}),
        "rules": rules,
    }
    binding: Manifest = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": _meta(role_name, None, {}),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": role_name,
        },
        "subjects": [
            {"kind": "ServiceAccount", "name": options.name, "namespace": options.namespace}
        ],
    }
    return [account, role, binding]


def _probes(need: Needs) -> dict[str, Any]:
    probes: dict[str, Any] = {}
    if need.health is not None:
        # kubeadm's liveness probe. It restarts a pod only after 5 failures 10 s apart, far
        # longer than a lameduck, during which /health still answers 200 (as CoreDNS's does).
        period = 10
        failures = max(5, math.ceil((need.health.lameduck + 10) / period))
        probes["livenessProbe"] = {
            "httpGet": {"path": "/health", "port": need.health.port, "scheme": "HTTP"},
            "initialDelaySeconds": 60,
            "periodSeconds": period,
            "timeoutSeconds": 5,
            "successThreshold": 1,
            "failureThreshold": failures,
        }
    if need.ready is not None:
        probes["readinessProbe"] = {
            "httpGet": {"path": "/ready", "port": need.ready.port, "scheme": "HTTP"},
            "periodSeconds": 5,
            "timeoutSeconds": 2,
            "successThreshold": 1,
            "failureThreshold": 2,
        }
    return probes


def _container(need: Needs, options: DeployOptions) -> dict[str, Any]:
    request, limit = memory_mib(options, need.pods_verified)
    ports: list[dict[str, Any]] = [
        {"name": "dns", "containerPort": need.dns_port, "protocol": "UDP"},
        {"name": "dns-tcp", "containerPort": need.dns_port, "protocol": "TCP"},
    ]
    if need.metrics_port is not None:
        ports.append({"name": "metrics", "containerPort": need.metrics_port, "protocol": "TCP"})
    return {
        "name": "coredns",
        "image": options.image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["-conf", f"{CONFIG_DIR}/Corefile"],
        "ports": ports,
        "resources": {
            "requests": {"cpu": "100m", "memory": f"{request}Mi"},
            "limits": {"memory": f"{limit}Mi"},
        },
        **_probes(need),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        "volumeMounts": [
            {"name": "config-volume", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def deployment(need: Needs, options: DeployOptions) -> Manifest:
    """Return the Deployment: spread over nodes and zones, critical, non-root, read-only."""
    lameduck = need.health.lameduck if need.health is not None else 0.0
    selector = {"matchLabels": dict(APP_LABELS)}
    pod_spec: dict[str, Any] = {
        "serviceAccountName": options.name,
        # Today's form of the seed's critical-pod annotations.
        "priorityClassName": "system-cluster-critical",
        "tolerations": [
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
        ],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": selector,
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }
                ]
            }
        },
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": selector,
            }
        ],
        # Upstream resolvers are the node's (forward . /etc/resolv.conf), as kubeadm's CoreDNS.
        "dnsPolicy": "Default",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
            # Port 53 for a non-root process, without file capabilities on the interpreter.
            "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}],
        },
        # Longer than the lameduck, so a stopping pod answers until it is out of the Service.
        "terminationGracePeriodSeconds": max(30, math.ceil(lameduck) + 10),
        "containers": [_container(need, options)],
        "volumes": [
            {
                "name": "config-volume",
                "configMap": {
                    "name": options.name,
                    "items": [{"key": "Corefile", "path": "Corefile"}],
                },
            },
            {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(options.name, options.namespace, {"kubernetes.io/name": "CoreDNS"}),
        "spec": {
            "replicas": options.replicas,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "selector": selector,
            "template": {"metadata": {"labels": dict(POD_LABELS)}, "spec": pod_spec},
        },
    }


def service(need: Needs, options: DeployOptions) -> Manifest:
    """Return the kube-dns Service at the cluster IP the kubelets hand to every pod."""
    ports: list[dict[str, Any]] = [
        {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": need.dns_port},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": need.dns_port},
    ]
    meta = _meta(options.service_name, options.namespace, {"kubernetes.io/name": "CoreDNS"})
    if need.metrics_port is not None:
        ports.append(
            {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": need.metrics_port}
        )
        meta["annotations"] = {
            "prometheus.io/port": str(need.metrics_port),
            "prometheus.io/scrape": "true",
        }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {"selector": dict(APP_LABELS), "clusterIP": options.cluster_ip, "ports": ports},
    }


def disruption_budget(options: DeployOptions) -> Manifest:
    """Return the PodDisruptionBudget: node drains take one DNS pod at a time."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(options.name, options.namespace, {}),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(POD_LABELS)}},
    }


def manifests(corefile: str, model: Corefile, options: DeployOptions) -> list[Manifest]:
    """Return every object `kdns deploy` prints, in the order `kubectl apply` wants them."""
    need = needs(model)
    out = [config_map(corefile, options), *rbac(need, options), deployment(need, options)]
    if options.service:
        out.append(service(need, options))
    out.append(disruption_budget(options))
    return out
