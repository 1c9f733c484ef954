"""whoami: answers every query with the client's address and port."""

from kdns.corefile import PluginSpec
from kdns.plugins.whoami.config import WhoamiConfig, parse
from kdns.plugins.whoami.handler import Whoami

SPEC = PluginSpec("whoami", parse, support="served", build=Whoami)

__all__ = ["SPEC", "Whoami", "WhoamiConfig"]
