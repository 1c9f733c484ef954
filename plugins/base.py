"""The plugin API: requests, response writers, handlers and the capabilities the runtime seeks.

The contract follows CoreDNS so plugins compose the same way: a handler gets the request and a
response writer, either writes a reply or calls the next handler, and returns an rcode. SERVFAIL,
REFUSED, FORMERR and NOTIMP returned without writing mean "nothing was written; the server
writes a reply with that rcode". Errors the *errors* plugin should log are raised as
`PluginError`.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar, runtime_checkable

import dnslib

import kdns.plugins.dnslib_fix  # noqa: F401 - fixes compression in messages over 16 KiB
from kdns.corefile import BlockContext, Directive, PluginSpec

__all__ = [
    "FORMERR",
    "NOERROR",
    "NOTIMP",
    "NXDOMAIN",
    "REFUSED",
    "SERVFAIL",
    "BlockContext",
    "BuildContext",
    "Debugging",
    "Directive",
    "Handler",
    "HttpRoutes",
    "Lameduck",
    "MetadataCollector",
    "MetadataProvider",
    "Plugin",
    "PluginError",
    "PluginSpec",
    "Readiness",
    "Recorder",
    "ReloadPolicy",
    "Request",
    "RequestFilter",
    "ResponseWriter",
    "Route",
    "ServerState",
    "Startable",
    "Stoppable",
    "UnsupportedConfig",
    "next_or_failure",
    "unsupported",
    "wrote",
]

NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
#: The UDP payload size kdns advertises in the OPT of its replies (the DNS flag day 2020 value).
EDNS_SIZE = 1232
#: Rcodes a handler returns to say it wrote nothing (the server writes the reply).
NOT_WRITTEN = frozenset({SERVFAIL, REFUSED, FORMERR, NOTIMP})

Proto = Literal["udp", "tcp"]
C = TypeVar("C")


def wrote(rcode: int) -> bool:
    """Tell whether a handler returning `rcode` has written a reply itself."""
    return rcode not in NOT_WRITTEN


class PluginError(Exception):
    """An error a plugin reports; the *errors* plugin logs it as `plugin/NAME: message`.

    `rcode` is what the client gets (nothing was written): SERVFAIL unless the plugin says
    otherwise (forward's max_concurrent answers REFUSED and reports an error, as CoreDNS does).
    """

    def __init__(self, plugin: str, message: str, rcode: int = 2) -> None:
        super().__init__(f"plugin/{plugin}: {message}")
        self.plugin = plugin
        self.rcode = rcode


@dataclass(slots=True)
class Request:
    """A query as a plugin sees it: the parsed message plus what is known about the client.

    `qname` is lower-cased and fully qualified (for matching); `name` keeps the case the
    client asked with (for answers).
    """

    msg: dnslib.DNSRecord
    proto: Proto
    remote: tuple[str, int]
    local: tuple[str, int] = ("", 0)
    size: int = 0
    #: The listener, as metrics label it: `dns://:53`.
    server: str = ""
    #: The server block zone that matched the query.
    zone: str = "."
    #: The name of the view whose block serves the query ("" without views).
    view: str = ""
    #: Metadata by label (`view/name`), filled by the *metadata* plugin's providers; the log
    #: plugin's `{/LABEL}` and view's `metadata('LABEL')` read it.
    meta: dict[str, str] = field(default_factory=dict)
    #: The plugin that wrote the reply: a handler that writes sets it to its name before
    #: writing (the `plugin` label of coredns_dns_responses_total).
    answered_by: str = ""
    name: str = field(init=False)
    qname: str = field(init=False)
    qtype: int = field(init=False)
    qclass: int = field(init=False)

    def __post_init__(self) -> None:
        if self.msg.questions:
            q = self.msg.questions[0]
            self.name = str(q.qname) or "."
            self.qtype, self.qclass = q.qtype, q.qclass
        else:
            self.name, self.qtype, self.qclass = ".", 0, 0
        self.qname = self.name.lower()

    @property
    def id(self) -> int:
        """Return the message ID."""
        return int(self.msg.header.id)

    @property
    def family(self) -> int:
        """Return 1 for an IPv4 client, 2 for IPv6 (the metrics label)."""
        return 2 if ":" in self.remote[0] else 1

    @property
    def opt(self) -> dnslib.RR | None:
        """Return the client's EDNS0 OPT record, if any."""
        for rr in self.msg.ar:
            if rr.rtype == dnslib.QTYPE.OPT:
                return rr
        return None

    @property
    def do(self) -> bool:
        """Tell whether the client set the DNSSEC OK bit."""
        opt = self.opt
        return bool(opt is not None and opt.ttl & 0x8000)

    @property
    def udp_size(self) -> int:
        """Return the largest reply the client takes: 65535 on TCP, else its EDNS size (>= 512)."""
        if self.proto == "tcp":
            return 65535
        opt = self.opt
        return max(512, int(opt.rclass)) if opt is not None else 512

    @property
    def type_name(self) -> str:
        """Return the query type mnemonic (`A`, `TYPE65534` when unknown)."""
        return _mnemonic(dnslib.QTYPE, self.qtype, "TYPE")

    @property
    def class_name(self) -> str:
        """Return the query class mnemonic (`IN`, `CH`)."""
        return _mnemonic(dnslib.CLASS, self.qclass, "CLASS")

    def reply(self, rcode: int = NOERROR, *, aa: bool = False) -> dnslib.DNSRecord:
        """Return an empty reply to this query: same ID and question, RD copied, QR set."""
        header = dnslib.DNSHeader(
            id=self.msg.header.id,
            qr=1,
            aa=int(aa),
            rd=self.msg.header.rd,
            cd=self.msg.header.cd if self.msg.header.opcode == 0 else 0,
            opcode=self.msg.header.opcode,
            rcode=rcode,
        )
        return dnslib.DNSRecord(header, questions=self.msg.questions[:1])


def _mnemonic(table: Any, code: int, prefix: str) -> str:
    try:
        return str(table[code])
    except Exception:  # dnslib raises its own error type for unknown codes
        return f"{prefix}{code}"


class ResponseWriter(Protocol):
    """Where a handler writes its reply."""

    def write(self, reply: dnslib.DNSRecord) -> None:
        """Send `reply` to the client (after truncation to what it accepts)."""
        ...


class Recorder:
    """A writer that passes replies on and remembers the last one, for wrapping plugins."""

    __slots__ = ("inner", "reply")

    def __init__(self, inner: ResponseWriter) -> None:
        self.inner = inner
        self.reply: dnslib.DNSRecord | None = None

    def write(self, reply: dnslib.DNSRecord) -> None:
        """Remember `reply`, then write it to the wrapped writer."""
        self.reply = reply
        self.inner.write(reply)

    @property
    def size(self) -> int:
        """Return the size of the bytes sent, when the writer underneath knows it."""
        return int(getattr(self.inner, "size", 0))

    @property
    def rcode(self) -> int | None:
        """Return the rcode written, or None if nothing was."""
        return None if self.reply is None else int(self.reply.header.rcode)


def chain_from(first: object) -> Iterator[object]:
    """Yield `first` and every handler behind it, in chain order (a cycle ends the walk)."""
    seen: set[int] = set()
    handler = first
    while handler is not None and id(handler) not in seen:
        seen.add(id(handler))
        yield handler
        handler = getattr(handler, "next", None)


class Capture:
    """A writer that keeps the last reply instead of sending it (a lookup made on a client's
    behalf, or a reply a plugin changes before it writes it itself)."""

    __slots__ = ("reply",)

    def __init__(self) -> None:
        self.reply: dnslib.DNSRecord | None = None

    def write(self, reply: dnslib.DNSRecord) -> None:
        """Keep `reply`."""
        self.reply = reply


@runtime_checkable
class Handler(Protocol):
    """A link of the chain."""

    name: str

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Answer `req` through `w` or pass it on; return the rcode (see the module doc)."""
        ...


async def next_or_failure(name: str, nxt: Handler | None, req: Request, w: ResponseWriter) -> int:
    """Call the next handler, or fail with SERVFAIL when there is none (as CoreDNS does)."""
    if nxt is None:
        raise PluginError(name, "no next plugin found")
    return await nxt.serve_dns(req, w)


@dataclass(frozen=True, slots=True)
class BuildContext:
    """What a plugin's build may know about its server block besides its own configs."""

    zones: tuple[str, ...]
    #: The configs of every plugin of the block, by name, in written order.
    configs: Mapping[str, tuple[object, ...]] = field(default_factory=dict)
    #: The listener labels of the block (`dns://:53`), for metrics.
    servers: tuple[str, ...] = ()


class Plugin(Generic[C]):
    """A convenient base for handlers: holds the configs and the next handler."""

    name: ClassVar[str] = ""

    def __init__(self, configs: tuple[C, ...], nxt: Handler | None, ctx: BuildContext) -> None:
        self.configs = configs
        self.config = configs[0]
        self.next = nxt
        self.ctx = ctx

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Pass the query on (override to answer)."""
        return await next_or_failure(self.name, self.next, req, w)


#: Builds a plugin's handler from the configs of its directives in one block.
BuildFn = Callable[[tuple[Any, ...], "Handler | None", BuildContext], Handler]


@runtime_checkable
class Startable(Protocol):
    """A handler with work to start after its generation is built (watches, health checks)."""

    async def start(self) -> None:
        """Start; raise to make the whole generation fail to start."""
        ...


@runtime_checkable
class Stoppable(Protocol):
    """A handler that holds resources to release when its generation retires."""

    async def stop(self) -> None:
        """Release what start() acquired."""
        ...


@runtime_checkable
class FastAnswer(Protocol):
    """A handler that can answer some raw queries from bytes it already holds (cache,
    kubernetes); `name` is the plugin name metrics count the answer under."""

    name: str

    def clock(self) -> float:
        """Return the handler's notion of now (monotonic seconds)."""
        ...

    def fast_answer(
        self,
        key: tuple[bytes, int, int, bool, bool],
        wire: bytes,
        now: float,
        server: str | None = None,
        remote: tuple[str, int] = ("0.0.0.0", 0),
        tcp: bool = False,
    ) -> bytes | None:
        """Return the reply bytes for a raw query, or None to send it down the chain (the fast
        path passes every argument by position: keywords cost a compiled answerer a parse per
        call)."""
        ...


class Fresh(Protocol):
    """Whether an answer given from bytes would still be given the same way now."""

    def fresh(self) -> bool:
        """Tell whether the answer is still the same."""
        ...


@runtime_checkable
class Renewable(Protocol):
    """A Fresh whose answer, once stale, may stay the same but for the TTLs (cache hits)."""

    #: Where the answer's TTL fields sit in the reply (offsets from the message's start).
    ttl_offsets: tuple[int, ...]

    def renew(self) -> int | None:
        """Return the TTL every record carries from now on (fresh again), or None when the
        answer itself is gone or changed."""
        ...


def count_nothing(count: int) -> None:
    """The per-answer counting of a plugin that keeps no per-answer counters (FastReuse)."""


@runtime_checkable
class FastReuse(Protocol):
    """A fast answerer whose answers may be sent again, as bytes, while they stay the same."""

    def fast_reuse(self) -> tuple[Fresh, Callable[[int], None]] | None:
        """Return how long the answer fast_answer just gave stays the same, and what this
        plugin counts per answer (called with how many were sent again); None: do not reuse."""
        ...


@runtime_checkable
class FastTransform(Protocol):
    """A handler that changes replies on their way out (loadbalance), on bytes as well."""

    def fast_transform(self) -> Callable[[bytes], bytes] | None:
        """Return the byte form of what the handler does to a reply; None keeps the chain."""
        ...


@runtime_checkable
class FastPass(Protocol):
    """A fast answerer that hands some queries to the next one untouched (cache, for names
    it never stores): the fast path may then ask the answerer behind it."""

    def fast_passes(self, key: tuple[bytes, int, int, bool, bool]) -> bool:
        """Tell whether the chain would only pass this query on (and store nothing)."""
        ...

    def fast_passed(self, server: str, count: int = 1) -> None:
        """Count queries passed on, as the chain counts them, once a later answerer answered."""
        ...


@runtime_checkable
class FastFill(Protocol):
    """A FastPass answerer that stores what the answerer behind it writes (cache): for a query
    it would store, the fast path asks the one behind and hands the reply over."""

    def clock(self) -> float:
        """Return the handler's notion of now (monotonic seconds)."""
        ...

    def fast_fill(
        self,
        key: tuple[bytes, int, int, bool, bool],
        wire: bytes,
        reply: bytes,
        now: float,
        *,
        server: str | None = None,
        tcp: bool = False,
        source: Fresh | None = None,
    ) -> bytes | None:
        """Store `reply` (the answer behind, to raw query `wire`) as the chain would, and
        return it as the chain would send it on; None: let the chain answer the query.

        `source`: how long the answer behind stays the same, when its answerer says so."""
        ...


@runtime_checkable
class FastObserver(Protocol):
    """A transparent handler that counts queries answered on the fast path (prometheus)."""

    def observe(
        self,
        server: str,
        zone: str,
        view: str,
        proto: str,
        family: str,
        qtype: int,
        do: bool,
        request_size: int,
        response_size: int,
        rcode: int,
        plugin: str,
        seconds: float,
        count: int = 1,
    ) -> None:
        """Count `count` queries answered alike without running the chain."""
        ...


def fast_transparent(handler: object) -> bool:
    """Tell whether a handler may be skipped when a handler behind it answers from bytes.

    A handler declares it with a class attribute `fast_transparent = True`: it does nothing
    to an already-known answer but count it (see DESIGN.md, "Speed").
    """
    return bool(getattr(handler, "fast_transparent", False))


#: Looks a name up through the whole server, as a client would (for CNAME targets).
Resolver = Callable[[str, int], Awaitable[dnslib.DNSRecord]]


@runtime_checkable
class NeedsResolver(Protocol):
    """A handler that resolves names through the whole server; the runtime sets `resolve`."""

    resolve: Resolver | None


@runtime_checkable
class Adoptable(Protocol):
    """A handler that can take over the running state of its predecessor on reload.

    The runtime offers each handler of a new generation the handlers of the same name in the
    retiring one, before starting it. Adopting means sharing (watches, synced data): the
    predecessor keeps serving until the swap, and whatever is shared is stopped only when its
    last user stops. Returns True when adopted (then start() must not start it all again).
    """

    def adopt(self, old: object) -> bool:
        """Share `old`'s running state if it is equivalent; return whether it did."""
        ...


@runtime_checkable
class MetadataProvider(Protocol):
    """A handler that publishes values about a query for other plugins (needs *metadata*)."""

    def metadata(self, req: Request) -> Mapping[str, str]:
        """Return labels (`plugin/name`) and their values for `req`; called once per query."""
        ...


@runtime_checkable
class MetadataCollector(Protocol):
    """A handler that fills `req.meta` from the providers of its block (*metadata*)."""

    def collect_metadata(self, req: Request) -> None:
        """Add every provider's values for `req` to `req.meta`."""
        ...


@runtime_checkable
class RequestFilter(Protocol):
    """A handler that admits only some queries to its server block (*view*)."""

    def view_name(self) -> str:
        """Return the view's name (the `view` label of metrics)."""
        ...

    def admits(self, req: Request) -> bool:
        """Tell whether `req` may be served by this block; never raises."""
        ...


@runtime_checkable
class Debugging(Protocol):
    """A server-level plugin that turns panic recovery off for its block (*debug*)."""

    def debugging(self) -> bool:
        """Tell whether failures in the block's chain are reported as not recovered."""
        ...


@runtime_checkable
class Readiness(Protocol):
    """A handler that reports readiness to the *ready* plugin."""

    def ready(self) -> bool:
        """Tell whether the plugin is ready to serve."""
        ...


class ServerState(Protocol):
    """What side endpoints (health, ready) may ask of the running server."""

    @property
    def stopping(self) -> bool:
        """Tell whether shutdown has begun (the lameduck)."""
        ...

    def not_ready(self) -> list[str]:
        """Return the names of chain plugins that are not ready, sorted."""
        ...


#: An HTTP route: server state in; status, content type and body out.
Route = Callable[[ServerState], tuple[int, str, bytes]]


@runtime_checkable
class HttpRoutes(Protocol):
    """A plugin that serves HTTP paths on a side listener (health, ready, metrics)."""

    def http_address(self) -> tuple[str, int]:
        """Return the host ("" for all) and port to listen on."""
        ...

    def http_routes(self) -> dict[str, Route]:
        """Return the paths served and their responders."""
        ...


@runtime_checkable
class TlsServer(Protocol):
    """A handler that holds the TLS context of a block's encrypted listeners (tls)."""

    def server_context(self, transport: str) -> ssl.SSLContext | None:
        """Return the context for `transport` (tls, https); None before it started."""
        ...


@runtime_checkable
class Lameduck(Protocol):
    """A plugin that asks the server to keep answering for a while after SIGTERM."""

    def lameduck(self) -> float:
        """Return the seconds to keep serving after shutdown begins."""
        ...


@runtime_checkable
class ReloadPolicy(Protocol):
    """A config that turns live reload on, with the fallback poll's interval and jitter."""

    interval: float
    jitter: float


@dataclass(frozen=True, slots=True)
class UnsupportedConfig:
    """The directive of a CoreDNS plugin kdns recognises but does not implement, kept as is."""

    directive: Directive


def _keep(d: Directive, ctx: BlockContext) -> UnsupportedConfig:
    return UnsupportedConfig(d)


def unsupported(name: str, note: str = "") -> PluginSpec:
    """Return the spec for a CoreDNS plugin kdns does not implement: any syntax, a warning."""
    return PluginSpec(name, _keep, support="unsupported", note=note)
