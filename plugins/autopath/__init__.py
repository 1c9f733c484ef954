"""autopath: follows the client's search path on the server and answers with the first hit."""

from kdns.corefile import PluginSpec
from kdns.plugins.autopath.config import AutopathConfig, parse

SPEC = PluginSpec("autopath", parse)

__all__ = ["SPEC", "AutopathConfig"]
