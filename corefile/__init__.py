"""Corefile text in, typed frozen model out: the pure first stage of kdns.

`load(path, registry)` is the one entry point `kdns check`, `kdns serve` and reload share.
"""

from __future__ import annotations

from kdns.corefile.addresses import ZoneAddress
from kdns.corefile.ast import Directive
from kdns.corefile.errors import CorefileError, Diagnostic, Position
from kdns.corefile.expand import Reader
from kdns.corefile.load import DEFAULT_COREFILE, Registry, load, loads
from kdns.corefile.model import (
    Corefile,
    ListenHosts,
    PluginEntry,
    QueryFilter,
    ServerBlock,
    ServerCertificate,
)
from kdns.corefile.spec import BlockContext, PluginSpec, Support
from kdns.corefile.syntax_tree import Word

__all__ = [
    "DEFAULT_COREFILE",
    "BlockContext",
    "Corefile",
    "CorefileError",
    "Diagnostic",
    "Directive",
    "ListenHosts",
    "PluginEntry",
    "PluginSpec",
    "Position",
    "QueryFilter",
    "Reader",
    "Registry",
    "ServerBlock",
    "ServerCertificate",
    "Support",
    "Word",
    "ZoneAddress",
    "load",
    "loads",
]
