"""cache: the store. Entries (plugins/packed.py) hold the replies written on misses, with TTLs
capped and OPT removed; a hit rewrites the TTL left at each record's offset.

Capacity is counted per bucket (success, denial) in 256 shards, as CoreDNS's plugin/pkg/cache
does; a full shard evicts a random entry to make room.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

from kdns.plugins.packed import Entry
from kdns.plugins.wire import Key

SHARDS = 256


class Shards:
    """A bucket of entries split over 256 shards, each holding at most capacity/256."""

    __slots__ = ("count", "shards", "size")

    def __init__(self, capacity: int) -> None:
        self.size = max(1, capacity // SHARDS)
        self.shards: list[dict[Key, Entry]] = [{} for _ in range(SHARDS)]
        self.count = 0

    def get(self, key: Key) -> Entry | None:
        """Return the entry stored under `key`, expired or not."""
        return self.shards[hash(key) & 0xFF].get(key)

    def add(self, key: Key, entry: Entry) -> bool:
        """Store `entry`; return True when a random entry of a full shard was evicted for it."""
        shard = self.shards[hash(key) & 0xFF]
        evicted = False
        old = shard.get(key)
        if old is not None:
            old.gone = True
        elif len(shard) >= self.size:
            victim = next(itertools.islice(shard, random.randrange(len(shard)), None))
            shard.pop(victim).gone = True
            evicted = True
        else:
            self.count += 1
        entry.gone = False
        shard[key] = entry
        return evicted

    def remove(self, key: Key) -> None:
        """Forget the entry under `key`, if any."""
        old = self.shards[hash(key) & 0xFF].pop(key, None)
        if old is not None:
            old.gone = True
            self.count -= 1

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Key]:
        for shard in self.shards:
            yield from shard
