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
from kdns.plugins.kubernetes.selector import LabelSelector, Requirement

SPEC = PluginSpec("kubernetes", parse, once=True)

__all__ = [
    "SPEC",
    "Kubeconfig",
    "KubernetesConfig",
    "LabelSelector",
    "PodMode",
    "Requirement",
    "TLSFiles",
    "is_reverse",
]
