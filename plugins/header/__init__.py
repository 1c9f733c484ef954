"""header: sets or clears flags in the header of queries and replies."""

from kdns.corefile import PluginSpec
from kdns.plugins.header.config import HeaderConfig, HeaderRule, parse
from kdns.plugins.header.handler import Header

SPEC = PluginSpec("header", parse, support="served", build=Header)

__all__ = ["SPEC", "Header", "HeaderConfig", "HeaderRule"]
