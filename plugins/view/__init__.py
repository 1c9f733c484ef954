"""view: admits a query to its server block only when the view's expressions hold."""

from kdns.corefile import PluginSpec
from kdns.plugins.view.config import ViewConfig, parse

SPEC = PluginSpec("view", parse, once=True)

__all__ = ["SPEC", "ViewConfig"]
