"""metadata: makes the values plugins publish about a query available to other plugins."""

from kdns.corefile import PluginSpec
from kdns.plugins.metadata.config import MetadataConfig, parse
from kdns.plugins.metadata.handler import Metadata

SPEC = PluginSpec("metadata", parse, support="served", build=Metadata)

__all__ = ["SPEC", "Metadata", "MetadataConfig"]
