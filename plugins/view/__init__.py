"""view: admits a query to its server block only when the view's expressions hold."""

from kdns.corefile import PluginSpec
from kdns.plugins.view.config import ViewConfig, parse
from kdns.plugins.view.handler import View

SPEC = PluginSpec("view", parse, once=True, support="served", build=View)

__all__ = ["SPEC", "View", "ViewConfig"]
