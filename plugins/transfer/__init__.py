"""transfer: answers zone transfers (AXFR/IXFR) and sends NOTIFY for authoritative plugins."""

from kdns.corefile import PluginSpec
from kdns.plugins.transfer.config import TransferConfig, parse

SPEC = PluginSpec("transfer", parse)

__all__ = ["SPEC", "TransferConfig"]
