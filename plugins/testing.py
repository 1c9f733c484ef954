"""Helpers for testing plugins: parse them with the real loader, run their handlers.

A directive under test is placed in a server block, `KEYS {` on line 1 and the directive
text from line 2 on, unindented, so positions in errors are the text's line + 1.
"""

from __future__ import annotations

import dnslib

from kdns.corefile import Corefile, CorefileError, Diagnostic, loads
from kdns.plugins import default_registry
from kdns.plugins.base import NOERROR, BuildContext, Handler, Proto, Request, ResponseWriter
from kdns.plugins.wire import packed


def load_text(text: str, *, path: str = "Corefile", env: dict[str, str] | None = None) -> Corefile:
    """Load Corefile text with the default registry and an empty environment."""
    return loads(text, default_registry(), path=path, env=env or {})


def in_block(directive_text: str, keys: str = "example.org") -> str:
    """Return a Corefile with `directive_text` inside one server block with `keys`."""
    return f"{keys} {{\n{directive_text}\n}}\n"


def parse_all(directive_text: str, keys: str = "example.org") -> tuple[object, ...]:
    """Return the configs parsed from the directives in `directive_text`, in chain order."""
    model = load_text(in_block(directive_text, keys))
    return tuple(entry.config for entry in model.servers[0].plugins)


def parse_one(directive_text: str, keys: str = "example.org") -> object:
    """Return the config of the single directive in `directive_text`."""
    configs = parse_all(directive_text, keys)
    assert len(configs) == 1, configs
    return configs[0]


def parse_error(directive_text: str, keys: str = "example.org") -> Diagnostic:
    """Return the first error loading `directive_text` gives; fail if it loads."""
    try:
        load_text(in_block(directive_text, keys))
    except CorefileError as exc:
        return exc.errors[0]
    raise AssertionError(f"expected an error for {directive_text!r}")


def warnings(directive_text: str, keys: str = "example.org") -> tuple[Diagnostic, ...]:
    """Return the warnings loading `directive_text` gives (it must load)."""
    return load_text(in_block(directive_text, keys)).warnings


# -- handler tests ---------------------------------------------------------------------------

#: The client every test request comes from, unless a test says otherwise.
CLIENT = ("10.240.0.1", 40212)


def make_request(
    name: str,
    qtype: str = "A",
    *,
    qclass: str = "IN",
    proto: Proto = "udp",
    remote: tuple[str, int] = CLIENT,
    bufsize: int | None = None,
    do: bool = False,
    zone: str = ".",
    server: str = "dns://:53",
) -> Request:
    """Build a request as the runtime would for a query from `remote`."""
    msg = dnslib.DNSRecord.question(name, qtype, qclass)
    if bufsize is not None or do:
        msg.add_ar(dnslib.EDNS0(udp_len=bufsize or 1232, flags="do" if do else ""))
    wire = packed(msg)
    return Request(
        dnslib.DNSRecord.parse(wire),
        proto,
        remote,
        ("127.0.0.1", 53),
        size=len(wire),
        server=server,
        zone=zone,
    )


class RecordingWriter:
    """A response writer that keeps what was written (for table tests of handlers)."""

    def __init__(self) -> None:
        self.replies: list[dnslib.DNSRecord] = []

    def write(self, reply: dnslib.DNSRecord) -> None:
        """Keep `reply` (parsed back from wire, as a client would see it)."""
        self.replies.append(dnslib.DNSRecord.parse(reply.pack()))

    @property
    def reply(self) -> dnslib.DNSRecord:
        """Return the one reply written; fail if there is not exactly one."""
        assert len(self.replies) == 1, f"{len(self.replies)} replies written"
        return self.replies[0]


class StubHandler:
    """A next handler that answers with fixed records and rcode, counting calls."""

    name = "stub"

    def __init__(
        self, rcode: int = NOERROR, answers: tuple[str, ...] = (), *, write: bool = True
    ) -> None:
        self.rcode = rcode
        self.answers = answers
        self.write = write
        self.calls: list[Request] = []

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Record the call and reply with the configured records."""
        self.calls.append(req)
        if self.write:
            reply = req.reply(self.rcode)
            for zone_line in self.answers:
                for rr in dnslib.RR.fromZone(zone_line):
                    reply.add_answer(rr)
            w.write(reply)
        return self.rcode


def build(directive_text: str, nxt: Handler | None = None, keys: str = "example.org") -> Handler:
    """Parse `directive_text` in a block with `keys` and build its plugin's handler."""
    model = load_text(in_block(directive_text, keys))
    server = model.servers[0]
    name = server.plugins[0].name
    spec = default_registry()[name]
    assert spec.build is not None, f"{name} has no handler"
    configs = tuple(e.config for e in server.plugins if e.name == name)
    ctx = BuildContext(zones=server.zones, configs={name: configs}, servers=("dns://:53",))
    handler = spec.build(configs, nxt, ctx)
    assert isinstance(handler, Handler)
    return handler


async def run(handler: Handler, req: Request) -> tuple[int, RecordingWriter]:
    """Run one request through `handler`; return the rcode and the writer."""
    w = RecordingWriter()
    rcode = await handler.serve_dns(req, w)
    return rcode, w
