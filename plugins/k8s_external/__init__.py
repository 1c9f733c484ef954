"""k8s_external: answers names in an outside zone with Services' external and load-balancer IPs."""

from kdns.corefile import PluginSpec
from kdns.plugins.k8s_external.config import K8sExternalConfig, parse
from kdns.plugins.k8s_external.handler import K8sExternal

SPEC = PluginSpec("k8s_external", parse, support="served", build=K8sExternal)

__all__ = ["SPEC", "K8sExternal", "K8sExternalConfig"]
