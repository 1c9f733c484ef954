"""root: sets the directory that relative file paths of other plugins start from."""

from kdns.corefile import PluginSpec
from kdns.plugins.root.config import RootConfig, parse

SPEC = PluginSpec("root", parse)

__all__ = ["SPEC", "RootConfig"]
