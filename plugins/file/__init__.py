"""file: serves authoritative answers from RFC 1035-style zone files."""

from kdns.corefile import PluginSpec
from kdns.plugins.file.config import FileConfig, parse

SPEC = PluginSpec("file", parse)

__all__ = ["SPEC", "FileConfig"]
