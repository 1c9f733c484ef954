"""file: serves authoritative answers from RFC 1035-style zone files."""

from kdns.corefile import PluginSpec
from kdns.plugins.file.config import FileConfig, parse
from kdns.plugins.file.handler import File
from kdns.plugins.file.zone import Zone
from kdns.plugins.file.zonefile import Reader, ZoneFileError

SPEC = PluginSpec("file", parse, support="served", build=File)

__all__ = ["SPEC", "File", "FileConfig", "Reader", "Zone", "ZoneFileError"]
