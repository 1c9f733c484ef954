"""template: builds answers from Go templates for queries that match regular expressions."""

from kdns.corefile import PluginSpec
from kdns.plugins.template.config import ExtendedError, TemplateConfig, Variable, parse

SPEC = PluginSpec("template", parse)

__all__ = ["SPEC", "ExtendedError", "TemplateConfig", "Variable"]
