"""rewrite: changes queries before the chain sees them, and their replies on the way back."""

from kdns.corefile import PluginSpec
from kdns.plugins.rewrite.config import (
    AnswerRule,
    ClassRule,
    CnameRule,
    EdnsLocalRule,
    EdnsNsidRule,
    EdnsSubnetRule,
    NameMatch,
    NameRule,
    RcodeRule,
    RewriteConfig,
    Rule,
    TtlRule,
    TypeRule,
    parse,
)
from kdns.plugins.rewrite.handler import Rewrite

SPEC = PluginSpec("rewrite", parse, support="served", build=Rewrite)

__all__ = [
    "SPEC",
    "AnswerRule",
    "ClassRule",
    "CnameRule",
    "EdnsLocalRule",
    "EdnsNsidRule",
    "EdnsSubnetRule",
    "NameMatch",
    "NameRule",
    "RcodeRule",
    "Rewrite",
    "RewriteConfig",
    "Rule",
    "TtlRule",
    "TypeRule",
]
