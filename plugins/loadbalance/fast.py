"""loadbalance on the fast path: the same reordering, done on a reply's bytes.

A reply answered from bytes (cache hits, ready kubernetes answers) is reordered without dnslib
when every record of a section to reorder is an A or AAAA record whose owner is a compression
pointer to a name before them (the usual shape: the question's name, or the SRV targets of the
answer section for the glue in the additional one). Such records are blocks of bytes no other
record points into, so moving them is safe and gives the bytes the chain's pack would give.
Any other section the policy would change is reordered through dnslib, as the chain does it.
The random source is the handler's, consumed exactly as the chain consumes it. Only the plain
round_robin policy runs here; `prefer` and `weighted` keep their blocks on the chain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import dnslib

from kdns.plugins.loadbalance.shuffle import AAAA, CNAME, MX, A, RandBelow, shuffle
from kdns.plugins.wire import packed, records

OPT: Final = 41
Block = tuple[int, int, int]  # start, end, type


def _sections(wire: bytes) -> list[list[Block]] | None:
    """Return the records of the answer, authority and additional sections, or None if odd."""
    try:
        sections = records(wire)[1]
    except ValueError:
        return None
    return [[(start, end, rtype) for start, _, end, rtype in section] for section in sections]


def _movable(wire: bytes, blocks: list[Block], before: int) -> bool:
    """Tell whether address records may be moved as blocks: owners point before `before`."""
    for start, _, rtype in blocks:
        if rtype != A and rtype != AAAA:
            return False
        if wire[start] & 0xC0 != 0xC0:
            return False
        if ((wire[start] & 0x3F) << 8 | wire[start + 1]) >= before:
            return False
    return True


def _unchanged(blocks: list[Block]) -> bool:
    """Tell whether round_robin leaves a section as it is: no shuffle, already grouped."""
    if len(blocks) <= 1:
        return True
    order = {CNAME: 0, A: 2, AAAA: 2, MX: 3}
    ranks = [order.get(t, 1) for _, _, t in blocks]
    return (
        ranks == sorted(ranks)
        and sum(1 for r in ranks if r == 2) <= 1
        and sum(1 for r in ranks if r == 3) <= 1
    )


class WireReorder:
    """Reorders reply bytes as the round_robin policy reorders a parsed reply."""

    def __init__(
        self, reorder: Callable[[dnslib.DNSRecord], None], randbelow: Callable[[], RandBelow]
    ) -> None:
        #: The chain's reordering of a parsed reply: the fallback.
        self.reorder = reorder
        #: Returns the handler's current random source (tests replace it on the handler).
        self.randbelow = randbelow

    def __call__(self, wire: bytes) -> bytes:
        """Return a NOERROR reply reordered; other replies come back as they are."""
        if wire[3] & 0xF:
            return wire
        if wire[6] == wire[8] == wire[10] == 0 and wire[7] <= 1 and wire[9] <= 1 and wire[11] <= 1:
            return wire  # at most one record per section: nothing to reorder
        found = _sections(wire)
        if found is None:
            return wire
        moves: list[list[Block]] = []
        for blocks in found:
            if blocks and blocks[-1][2] == OPT:
                blocks = blocks[:-1]  # the writer's OPT: added after the reordering
            if len(blocks) <= 1:
                continue
            first = blocks[0][2]
            if first in (A, AAAA) and all(t == first for _, _, t in blocks):
                if not _movable(wire, blocks, blocks[0][0]):
                    return self._slow(wire)
                moves.append(blocks)
            elif not _unchanged(blocks):
                return self._slow(wire)
        if not moves:
            return wire
        rand = self.randbelow()
        out = bytearray(wire)
        for blocks in moves:  # in section order: the random source is used as the chain uses it
            records = [wire[s:e] for s, e, _ in blocks]
            shuffle(records, rand)
            out[blocks[0][0] : blocks[-1][1]] = b"".join(records)
        return bytes(out)

    def _slow(self, wire: bytes) -> bytes:
        """Reorder through dnslib, as the chain does: OPT out, reorder, OPT back, pack."""
        reply = dnslib.DNSRecord.parse(wire)
        opt = [rr for rr in reply.ar if rr.rtype == OPT]
        reply.ar = [rr for rr in reply.ar if rr.rtype != OPT]
        self.reorder(reply)
        reply.ar = [*reply.ar, *opt]
        return packed(reply)
