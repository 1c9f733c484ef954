"""The resources the test API server serves, their field labels, and the discovery documents.

Besides the built-in kinds DNS watches it serves ServiceImports (multicluster.x-k8s.io/v1alpha1)
as if the Multi-Cluster Services CRD were installed, and the kinds `kdns deploy` prints
(ConfigMap, ServiceAccount, ClusterRole, ClusterRoleBinding, Deployment, PodDisruptionBudget)
as plain stored objects: no controller acts on them (a Deployment never gets pods or status).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
FieldGetter = Callable[[Obj], str]

#: The version `/version` reports; kubectl only warns on skew beyond one minor.
VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-kdns",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def _path(*keys: str) -> FieldGetter:
    def get(obj: Obj) -> str:
        value: Any = obj
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)

    return get


_COMMON: Mapping[str, FieldGetter] = {
    "metadata.name": _path("metadata", "name"),
    "metadata.namespace": _path("metadata", "namespace"),
}


@dataclass(frozen=True, slots=True)
class Resource:
    """One served resource: where it lives in the API and how it is named."""

    plural: str
    singular: str
    kind: str
    group: str
    version: str
    namespaced: bool
    short_names: tuple[str, ...]
    categories: tuple[str, ...]
    #: Field selector labels the real API server accepts for this resource.
    fields: Mapping[str, FieldGetter]

    @property
    def api_version(self) -> str:
        """The `apiVersion` of objects of this resource (`v1`, `discovery.k8s.io/v1`)."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        """Same as `api_version`: the group/version path segment."""
        return self.api_version

    @property
    def list_kind(self) -> str:
        """The kind of a list of these objects (`ServiceList`)."""
        return self.kind + "List"

    def api_resource(self) -> Obj:
        """The APIResource entry discovery shows for this resource."""
        entry: Obj = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        return entry


RESOURCES: dict[str, Resource] = {
    r.plural: r
    for r in (
        Resource(
            "namespaces",
            "namespace",
            "Namespace",
            "",
            "v1",
            False,
            ("ns",),
            (),
            {**_COMMON, "status.phase": _path("status", "phase")},
        ),
        Resource(
            "services",
            "service",
            "Service",
            "",
            "v1",
            True,
            ("svc",),
            ("all",),
            {
                **_COMMON,
                "spec.clusterIP": _path("spec", "clusterIP"),
                "spec.type": _path("spec", "type"),
            },
        ),
        Resource(
            "pods",
            "pod",
            "Pod",
            "",
            "v1",
            True,
            ("po",),
            ("all",),
            {
                **_COMMON,
                "spec.nodeName": _path("spec", "nodeName"),
                "spec.restartPolicy": _path("spec", "restartPolicy"),
                "spec.schedulerName": _path("spec", "schedulerName"),
                "spec.serviceAccountName": _path("spec", "serviceAccountName"),
                "spec.hostNetwork": _path("spec", "hostNetwork"),
                "status.phase": _path("status", "phase"),
                "status.podIP": _path("status", "podIP"),
                "status.nominatedNodeName": _path("status", "nominatedNodeName"),
            },
        ),
        Resource(
            "endpointslices",
            "endpointslice",
            "EndpointSlice",
            "discovery.k8s.io",
            "v1",
            True,
            (),
            (),
            _COMMON,
        ),
        # The Multi-Cluster Services API's CRD (sigs.k8s.io/mcs-api), served as if installed.
        Resource(
            "serviceimports",
            "serviceimport",
            "ServiceImport",
            "multicluster.x-k8s.io",
            "v1alpha1",
            True,
            ("svcim",),
            (),
            _COMMON,
        ),
        # What `kdns deploy` prints: stored and served, with no controller behind them.
        Resource("configmaps", "configmap", "ConfigMap", "", "v1", True, ("cm",), (), _COMMON),
        Resource(
            "serviceaccounts",
            "serviceaccount",
            "ServiceAccount",
            "",
            "v1",
            True,
            ("sa",),
            (),
            _COMMON,
        ),
        Resource(
            "deployments",
            "deployment",
            "Deployment",
            "apps",
            "v1",
            True,
            ("deploy",),
            ("all",),
            _COMMON,
        ),
        Resource(
            "poddisruptionbudgets",
            "poddisruptionbudget",
            "PodDisruptionBudget",
            "policy",
            "v1",
            True,
            ("pdb",),
            (),
            _COMMON,
        ),
        Resource(
            "clusterroles",
            "clusterrole",
            "ClusterRole",
            "rbac.authorization.k8s.io",
            "v1",
            False,
            (),
            (),
            _COMMON,
        ),
        Resource(
            "clusterrolebindings",
            "clusterrolebinding",
            "ClusterRoleBinding",
            "rbac.authorization.k8s.io",
            "v1",
            False,
            (),
            (),
            _COMMON,
        ),
    )
}

#: kind -> resource, for manifests.
BY_KIND: dict[str, Resource] = {r.kind: r for r in RESOURCES.values()}

GROUPS: dict[str, str] = {
    "discovery.k8s.io": "v1",
    "multicluster.x-k8s.io": "v1alpha1",
    "apps": "v1",
    "policy": "v1",
    "rbac.authorization.k8s.io": "v1",
}


def api_versions(address: str) -> Obj:
    """The `/api` document."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def api_group(name: str) -> Obj:
    """The APIGroup document for one named group."""
    version = GROUPS[name]
    gv = {"groupVersion": f"{name}/{version}", "version": version}
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": name,
        "versions": [gv],
        "preferredVersion": gv,
    }


def api_group_list() -> Obj:
    """The `/apis` document."""
    groups = [{k: v for k, v in api_group(name).items() if k != "kind"} for name in GROUPS]
    for group in groups:
        group.pop("apiVersion", None)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_resource_list(group_version: str) -> Obj | None:
    """The APIResourceList of one group/version, or None if it is not served."""
    resources = [r.api_resource() for r in RESOURCES.values() if r.group_version == group_version]
    if not resources:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }
