"""whoami: answers every query with the client's address and port."""

from kdns.corefile import PluginSpec
from kdns.plugins.whoami.config import WhoamiConfig, parse

SPEC = PluginSpec("whoami", parse)

__all__ = ["SPEC", "WhoamiConfig"]
