"""metadata: syntax, and the collection of providers' values into `req.meta`."""

from __future__ import annotations

import pytest

from kdns.plugins.base import MetadataCollector, Request, ResponseWriter
from kdns.plugins.metadata import Metadata, MetadataConfig
from kdns.plugins.testing import StubHandler, build, make_request, parse_error, parse_one, run

VALID = [
    ("metadata", "example.org", MetadataConfig(("example.org.",))),
    ("metadata", "example.org example.net", MetadataConfig(("example.org.", "example.net."))),
    ("metadata Example.COM a.org.", "example.org", MetadataConfig(("example.com.", "a.org."))),
    ("metadata 10.0.0.0/24", ".", MetadataConfig(("0.0.10.in-addr.arpa.",))),
]


@pytest.mark.parametrize(("text", "keys", "want"), VALID)
def test_valid(text: str, keys: str, want: MetadataConfig) -> None:
    """Zones default to the block's, and are normalised like every zone argument."""
    assert parse_one(text, keys) == want


INVALID = [
    ("metadata {\n  map {{.IP}} VRF {\n    127.0.0.1 v1\n  }\n}", 3, 3, "does not support 'map'"),
    ("metadata {\n  foo\n}", 3, 3, "unknown property 'foo'"),
]


@pytest.mark.parametrize(("text", "line", "column", "message"), INVALID)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert (error.pos.line, error.pos.column) == (line, column)
    assert message in error.message
    assert error.plugin == "metadata"


class Provider(StubHandler):
    """A provider in the chain behind metadata: publishes a label, records what it saw."""

    def __init__(self, label: str, value: str, nxt: Provider | None = None) -> None:
        super().__init__()
        self.label, self.value, self.next = label, value, nxt
        self.seen: list[dict[str, str]] = []

    def metadata(self, req: Request) -> dict[str, str]:
        return {self.label: self.value}

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        self.seen.append(dict(req.meta))
        if self.next is not None:
            return await self.next.serve_dns(req, w)
        return await super().serve_dns(req, w)


def chain(zones: str = "") -> tuple[Metadata, Provider, Provider]:
    """metadata -> provider a -> provider b, which answers."""
    b = Provider("b/label", "two")
    a = Provider("a/label", "one", b)
    handler = build(f"metadata {zones}".strip(), a)
    assert isinstance(handler, Metadata)
    return handler, a, b


async def test_collects_every_provider_behind_it() -> None:
    handler, a, b = chain()
    assert isinstance(handler, MetadataCollector)
    assert handler.providers == (a, b)
    rcode, w = await run(handler, make_request("www.example.org"))
    assert rcode == 0
    assert len(w.replies) == 1
    assert b.seen == [{"a/label": "one", "b/label": "two"}]


async def test_only_inside_its_zones() -> None:
    handler, _, b = chain("example.com")
    await run(handler, make_request("www.example.org"))
    await run(handler, make_request("www.example.com"))
    assert b.seen == [{}, {"a/label": "one", "b/label": "two"}]


def test_without_providers_nothing_is_added() -> None:
    handler = build("metadata", StubHandler())
    assert isinstance(handler, Metadata)
    req = make_request("www.example.org")
    handler.collect_metadata(req)
    assert req.meta == {}
