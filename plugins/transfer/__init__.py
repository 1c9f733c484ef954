"""transfer: answers zone transfers (AXFR/IXFR) for authoritative plugins of the block."""

from kdns.corefile import PluginSpec
from kdns.plugins.transfer.capability import Notifier, Transferer, transferers
from kdns.plugins.transfer.config import TransferConfig, parse
from kdns.plugins.transfer.handler import Transfer

SPEC = PluginSpec("transfer", parse, support="served", build=Transfer)

__all__ = ["SPEC", "Notifier", "Transfer", "TransferConfig", "Transferer", "transferers"]
