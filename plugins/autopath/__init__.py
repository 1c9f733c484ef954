"""autopath: follows the client's search path on the server and answers with the first hit."""

from kdns.corefile import PluginSpec
from kdns.plugins.autopath.capability import SearchPather, resolv_search
from kdns.plugins.autopath.config import AutopathConfig, parse
from kdns.plugins.autopath.handler import Autopath

SPEC = PluginSpec("autopath", parse, support="served", build=Autopath)

__all__ = ["SPEC", "Autopath", "AutopathConfig", "SearchPather", "resolv_search"]
