"""root: sets the directory that relative file paths of other plugins start from."""

from kdns.corefile import PluginSpec
from kdns.plugins.root.config import RootConfig, parse
from kdns.plugins.root.handler import Root
from kdns.plugins.root.paths import resolve_path, root_of

SPEC = PluginSpec("root", parse, support="served", build=Root)

__all__ = ["SPEC", "Root", "RootConfig", "resolve_path", "root_of"]
