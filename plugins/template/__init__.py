"""template: builds answers from Go templates for queries that match regular expressions."""

from kdns.corefile import PluginSpec
from kdns.plugins.template.config import ExtendedError, TemplateConfig, Variable, parse
from kdns.plugins.template.handler import Templates

SPEC = PluginSpec("template", parse, support="served", build=Templates)

__all__ = ["SPEC", "ExtendedError", "TemplateConfig", "Templates", "Variable"]
