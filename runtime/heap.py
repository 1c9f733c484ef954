"""Keeps the collector's full passes off the long-lived heap (gc.freeze once the data is in).

CPython's full collection walks every object it tracks. With a cluster's data in memory
(~150,000 objects in `kdns serve` for 10,000 Services) one pass takes 0.1-0.2 s of CPU, and it
comes each time the heap has grown by a quarter, as the first queries for new names make it
grow: in the cold pass of `bench/cluster_dns.py` it was a third of the CPU. Once the running
configuration is ready (the kubernetes plugin synced), the heap is collected once and frozen:
later passes walk only what was made since.

Reference counting still frees frozen objects. What freezing keeps is garbage held by a cycle
through a frozen object: a retired generation (its plugins, tables and tasks refer to each
other) is such garbage, so a reload thaws the heap before the old generation stops, and the next
settle collects it (a full pass, once per reload). Watch restarts, 410 re-lists, Service changes
and UDP and TCP queries left no cyclic garbage behind (measured: nothing collectable after
thawing, where three reloads left ~3,000 objects).
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect all garbage now, then exempt every survivor from later collections."""
    gc.collect()
    gc.freeze()


def thaw() -> None:
    """Hand the frozen objects back to the collector (their next full pass sees them)."""
    gc.unfreeze()
