"""The loader: server blocks, directive lookup, once-per-block, order, conflicts, defaults."""

from __future__ import annotations

import pytest

from kdns.corefile import CorefileError, loads
from kdns.plugins import CHAIN_ORDER, default_registry
from kdns.plugins.testing import load_text


def errors(text: str) -> list[tuple[int, int, str]]:
    with pytest.raises(CorefileError) as info:
        load_text(text)
    return [(d.pos.line, d.pos.column, d.message) for d in info.value.errors]


def test_single_block_without_braces() -> None:
    """A file holding one block may omit the braces (the Caddy single-site form)."""
    model = load_text("example.org\nwhoami\ncache 30\n")
    assert model.servers[0].zones == ("example.org.",)
    assert [e.name for e in model.servers[0].plugins] == ["cache", "whoami"]


def test_braceless_block_after_braced_blocks() -> None:
    """The brace-less form may close a file after braced blocks."""
    model = load_text("a.org {\n    whoami\n}\nb.org\ncache\n")
    assert [s.zones for s in model.servers] == [("a.org.",), ("b.org.",)]


def test_plugins_run_in_chain_order_whatever_the_written_order() -> None:
    """The model lists plugins in plugin.cfg order and remembers the written order."""
    model = load_text(". {\n    whoami\n    cache\n    log\n}\n")
    server = model.servers[0]
    assert [e.name for e in server.plugins] == ["log", "cache", "whoami"]
    assert server.written == ("whoami", "cache", "log")
    ranks = [CHAIN_ORDER.index(e.name) for e in server.plugins]
    assert ranks == sorted(ranks)


def test_keys_space_comma_and_continued_lines() -> None:
    """Keys separated by spaces or commas, a trailing comma continuing on the next line."""
    model = load_text("a.org, b.org,\n  c.org:1053,\n  d.org {\n    whoami\n}\n")
    assert [str(a) for a in model.servers[0].addresses] == [
        "dns://a.org.:53",
        "dns://b.org.:53",
        "dns://c.org.:1053",
        "dns://d.org.:53",
    ]


def test_every_error_is_reported_in_one_run() -> None:
    """Errors in different blocks and directives are all collected, in file order."""
    found = errors(
        "a.org {\n    cache 0\n    whoami x\n}\nb.org {\n    forwrd . 1.1.1.1\n}\n:53 {\n}\n"
    )
    assert [(line, col) for line, col, _ in found] == [(2, 11), (3, 12), (6, 5), (8, 1)]


def test_unsupported_coredns_plugin_is_a_warning_not_an_unknown_directive() -> None:
    """A plugin.cfg name kdns does not implement is recognised (warning), others are errors."""
    model = load_text(". {\n    dnstap /tmp/dnstap.sock full\n}\n")
    assert any(w.plugin == "dnstap" and "does not serve" in w.message for w in model.warnings)
    assert "unknown plugin 'omada'" in errors(". {\n    omada\n}\n")[0][2]


def test_empty_corefile_serves_the_builtin_default() -> None:
    """No server block: CoreDNS's default `.:53 { whoami log }`, on -dns.port."""
    for text in ("", "# nothing\n", "(snip) {\n    whoami\n}\n"):
        model = loads(text, default_registry(), env={}, default_port=1053)
        assert model.default
        assert [str(a) for a in model.servers[0].addresses] == ["dns://.:1053"]
        assert [e.name for e in model.servers[0].plugins] == ["log", "whoami"]


def test_block_with_no_plugins_is_valid() -> None:
    """`.:1054 {}` with an empty body parses (it REFUSEs everything when served)."""
    model = load_text(".:1054 {\n\n}\n")
    assert model.servers[0].plugins == ()


def test_same_zone_on_different_ports_is_fine() -> None:
    """Only the same transport, zone, port and address conflict."""
    model = load_text(
        ".:53 {\n    whoami\n}\n.:54 {\n    whoami\n}\n"
        "tls://. {\n    tls cert.pem key.pem\n    whoami\n}\n"
    )
    assert len(model.servers) == 3


def test_conflicts_are_reported_at_the_later_key() -> None:
    """The second definition is the error, naming where the first is."""
    found = errors("example.org {\n    whoami\n}\nexample.org:53 {\n    whoami\n}\n")
    assert found[0][:2] == (4, 1)
    assert "already defined at Corefile:1:1" in found[0][2]


def test_plugin_errors_are_tagged_with_the_plugin_name() -> None:
    """Diagnostics from a plugin's parse say plugin/NAME."""
    with pytest.raises(CorefileError) as info:
        load_text(". {\n    cache 0\n}\n")
    assert info.value.errors[0].headline() == (
        "Corefile:2:11: error: plugin/cache: cache TTL can not be zero or negative: 0"
    )
