"""Ready answers: each reply the plugin computes is kept as bytes until a watch event alters it.

The first query for a name runs records.py and the handler writes the reply; the reply is also
packed into an `Entry` (the cache's byte form: a hit copies the bytes, writes the client's ID,
flags and question case) and filed under the scope of the names it depends on. A watch event
drops exactly the entries of the scope it touched (one Service's names, the pod names, or
everything for a namespace change or a re-list), plus the entries that depend on more than one
Service (reverse names, wildcards, namespace-level names, answers through a CNAME), so the
next query computes them again. The per-query path for a known name is a dictionary lookup.

The SOA serial moves with every change anywhere in the cluster; rather than drop every negative
answer on every event, an entry remembers where its SOA serial sits and a hit writes the
current serial there.

A Service's address, packed straight from the index (direct.py), is not filed: the table
hands out a `Held` for its Service's scope instead, which the same changes drop.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Final

import dnslib

from kdns.plugins.base import Request
from kdns.plugins.kubernetes.scopes import ALL, PODS, Scope, service_scope
from kdns.plugins.packed import Entry, pack
from kdns.plugins.wire import Key, name_wire, soa_serial_offset

#: The scope of answers that depend on more than one Service (dropped on every change).
SHARED: Scope = ("shared",)
#: How many answers are kept; past it the oldest is dropped (a cold start refills on demand).
CAPACITY: Final = 50_000
SVC_LABEL: Final = "svc"
POD_LABEL: Final = "pod"
WILDCARDS = ("*", "any")
CNAME: Final = 5


def scope_of(qname: str, zone: str, reply: dnslib.DNSRecord) -> Scope:
    """Return the scope a reply to lower-case `qname` in lower-case `zone` depends on."""
    if any(rr.rtype == CNAME for rr in reply.rr):
        return SHARED  # an ExternalName inside the zone: the target is another Service
    head = qname[: len(qname) - len(zone)].rstrip(".") if zone != "." else qname.rstrip(".")
    labels = head.split(".") if head else []
    if len(labels) >= 3 and labels[-1] == SVC_LABEL:
        namespace, service = labels[-2], labels[-3]
        if namespace not in WILDCARDS and service not in WILDCARDS:
            return service_scope(namespace, service)
    elif len(labels) >= 3 and labels[-1] == POD_LABEL:
        return PODS
    return SHARED


class Prepared:
    """One ready reply: the cache's Entry (no TTL rewriting), where its SOA serial sits and
    whether that is the serial of a multicluster zone."""

    __slots__ = ("alive", "entry", "multicluster", "scope", "serial_at")

    def __init__(self, entry: Entry, scope: Scope, serial_at: int, multicluster: bool) -> None:
        self.entry = entry
        self.scope = scope
        self.serial_at = serial_at
        self.multicluster = multicluster
        #: False once dropped from the table: bytes sent from it may no longer be sent.
        self.alive = True

    def fresh(self) -> bool:
        """Tell whether the reply is still in the table (the hot path asks)."""
        return self.alive


class Held:
    """The replies of one scope packed outside the table (direct.py): fresh until a change
    of that scope drops it."""

    __slots__ = ("alive",)

    def __init__(self) -> None:
        self.alive = True

    def fresh(self) -> bool:
        """Tell whether no change has touched the scope since."""
        return self.alive


class SerialFresh:
    """A ready negative answer sent with one SOA serial: fresh while both stay the same."""

    __slots__ = ("prepared", "serial", "serial_for")

    def __init__(self, prepared: Prepared, serial_for: Callable[[bool], int], serial: int) -> None:
        self.prepared = prepared
        self.serial_for = serial_for
        self.serial = serial

    def fresh(self) -> bool:
        """Tell whether the reply is still in the table and its zone's serial has not moved."""
        prepared = self.prepared
        return prepared.alive and self.serial_for(prepared.multicluster) == self.serial


class AnswerTable:
    """Ready replies by query key, dropped scope by scope as the index changes."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.entries: dict[Key, Prepared] = {}
        self._scopes: dict[Scope, set[Key]] = {}
        #: How long the reply `render` just gave stays the same (None after a miss).
        self.last: Prepared | SerialFresh | Held | None = None
        #: Queries found to need the chain (fallthrough, a lookup), so the fast path does not
        #: compute them again per query; any index change may alter that, and empties it.
        self.chain_only: set[Key] = set()
        #: The freshness of the replies packed outside the table (direct.py), by scope.
        self.holding: dict[Scope, Held] = {}

    def needs_chain(self, key: Key) -> None:
        """Remember that `key` is answered by the chain only (until the next index change)."""
        if len(self.chain_only) >= self.capacity:
            self.chain_only.clear()
        self.chain_only.add(key)

    def store(
        self, key: Key, reply: dnslib.DNSRecord, scope: Scope, multicluster: bool = False
    ) -> None:
        """Keep `reply` (as written, without OPT) for `key`; skipped if it cannot be packed.

        `multicluster`: the reply's zone is a multicluster zone, whose SOA has its own serial.
        """
        try:
            wire, locked = pack(reply)
            entry = Entry(
                wire, (), _question_end(wire), ttl=0, stored=0.0, kind="", ad=False, locked=locked
            )
            serial_at = soa_serial_offset(wire)
        except Exception:  # a reply dnslib cannot pack is answered by the chain every time
            return
        self.file(key, entry, scope, serial_at, multicluster)

    def held(self, scope: Scope) -> Held:
        """Return what stays fresh until the next change of `scope` (or of everything)."""
        held = self.holding.get(scope)
        if held is None:
            held = self.holding[scope] = Held()
        return held

    def file(
        self, key: Key, entry: Entry, scope: Scope, serial_at: int = 0, multicluster: bool = False
    ) -> None:
        """Keep a packed reply for `key` (`serial_at`: where its SOA serial sits, if any)."""
        if key not in self.entries and len(self.entries) >= self.capacity:
            oldest = next(iter(self.entries))
            self._forget(oldest)
        self._forget(key)
        self.entries[key] = Prepared(entry, scope, serial_at, multicluster)
        self._scopes.setdefault(scope, set()).add(key)

    def _forget(self, key: Key) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            old.alive = False
            keys = self._scopes.get(old.scope)
            if keys is not None:
                keys.discard(key)

    def changed(self, scope: Scope) -> None:
        """Drop the replies `scope` alters (an Index listener)."""
        self.chain_only.clear()
        held = self.holding.pop(scope, None)
        if held is not None:
            held.alive = False
        if scope == ALL:
            for held in self.holding.values():
                held.alive = False
            self.holding.clear()
            for prepared in self.entries.values():
                prepared.alive = False
            self.entries.clear()
            self._scopes.clear()
            return
        for dropped in (scope, SHARED):
            for key in self._scopes.pop(dropped, ()):
                gone = self.entries.pop(key, None)
                if gone is not None:
                    gone.alive = False

    def reply(
        self, key: Key, req: Request, serial_for: Callable[[bool], int]
    ) -> dnslib.DNSRecord | None:
        """Return the ready reply to a parsed request, for the chain (the writer packs it)."""
        prepared = self.entries.get(key)
        if prepared is None:
            return None
        entry = prepared.entry
        question = req.msg.questions[0]
        qname = name_wire(tuple(question.qname.label))
        if entry.locked and qname != entry.wire[12 : entry.qend]:
            return None
        header = req.msg.header
        ident = struct.pack("!H", header.id)
        out = entry.render(ident, header.bitmap, qname, 0, b"", req.do)
        at = prepared.serial_at
        if at:
            serial = struct.pack("!I", serial_for(prepared.multicluster))
            out = b"".join((out[:at], serial, out[at + 4 :]))
        return dnslib.DNSRecord.parse(out)

    def render(
        self, key: Key, wire: bytes, serial_for: Callable[[bool], int], tcp: bool
    ) -> bytes | None:
        """Return the reply to a raw query from the table, or None when the chain must answer.

        `serial_for(multicluster)` gives the current SOA serial (Index.serial_for).
        None: no entry, a question whose case cannot be echoed by copying bytes (Entry.locked),
        or a reply larger than the client takes (the chain truncates it).
        """
        self.last = None
        prepared = self.entries.get(key)
        if prepared is None:
            return None
        entry = prepared.entry
        fit = entry.fit(wire, key[3], tcp)
        if fit is None:
            return None
        qname, opt = fit
        out = entry.render(wire[0:2], (wire[2] << 8) | wire[3], qname, 0, opt, key[3])
        at = prepared.serial_at
        if at:
            serial = serial_for(prepared.multicluster)
            out = b"".join((out[:at], struct.pack("!I", serial), out[at + 4 :]))
            self.last = SerialFresh(prepared, serial_for, serial)
        else:
            self.last = prepared
        return out


def _question_end(wire: bytes) -> int:
    """Return the offset just past the first question's name."""
    i = 12
    while wire[i]:
        i += wire[i] + 1
    return i + 1
