"""k8s_external: answers names in an outside zone with Services' external and load-balancer IPs."""

from kdns.corefile import PluginSpec
from kdns.plugins.k8s_external.config import K8sExternalConfig, parse

SPEC = PluginSpec("k8s_external", parse)

__all__ = ["SPEC", "K8sExternalConfig"]
