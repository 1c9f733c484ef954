"""kubernetes: answers cluster names from the Kubernetes API (Services, EndpointSlices, Pods)."""

from kdns.corefile import PluginSpec
from kdns.plugins.kubernetes.config import (
    Kubeconfig,
    KubernetesConfig,
    PodMode,
    TLSFiles,
    is_reverse,
    parse,
)
from kdns.plugins.kubernetes.handler import Kubernetes
from kdns.plugins.kubernetes.selector import LabelSelector, Requirement

SPEC = PluginSpec("kubernetes", parse, once=True, support="served", build=Kubernetes)

__all__ = [
    "SPEC",
    "Kubeconfig",
    "Kubernetes",
    "KubernetesConfig",
    "LabelSelector",
    "PodMode",
    "Requirement",
    "TLSFiles",
    "is_reverse",
]
