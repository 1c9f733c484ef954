"""transfer: what a plugin offers to have its zones transferred (CoreDNS's Transferer).

A plugin of the server block that can list a zone implements `Transferer`; the *transfer*
handler finds such plugins behind it in the chain when it is built and asks them in chain order,
taking the first that is authoritative for the zone asked. A transferer whose zones change
(*file*) also implements `Notifier`, so that *transfer* can send NOTIFY to the secondaries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import dnslib

from kdns.plugins.base import chain_from


@runtime_checkable
class Transferer(Protocol):
    """A plugin whose zones can be transferred (AXFR, IXFR)."""

    def transfer(self, zone: str, serial: int = 0) -> list[dnslib.RR] | None:
        """Return the records of `zone` (lower case, fully qualified) in transfer order.

        None means "not authoritative for this zone": the next transferer is asked. Otherwise
        the list starts with the zone's SOA and, for a full transfer, ends with it again.
        `serial` is 0 for AXFR; for IXFR it is the client's serial, and when that is not
        older than the zone's, the list is the SOA alone ("up to date").
        """
        ...


#: Told the name of a zone (lower case, fully qualified) whose records are new.
ChangeCallback = Callable[[str], None]


@runtime_checkable
class Notifier(Protocol):
    """A transferer that announces when a zone is loaded or changes (CoreDNS's file plugin)."""

    def on_change(self, callback: ChangeCallback) -> None:
        """Call `callback(zone)` each time a zone is loaded or its records change.

        A zone loaded before the callback is registered is announced at once, so that every
        zone is announced once at startup whichever plugin starts first; the callback is
        called on the event loop and must not block.
        """
        ...


def transferers(first: object) -> list[Transferer]:
    """Return the transferers among `first` and the handlers behind it, in chain order."""
    return [h for h in chain_from(first) if isinstance(h, Transferer)]
