"""hosts handler: answers, NODATA, SERVFAIL, fallthrough, PTR, wildcards, reload and metrics."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import dnslib
import pytest
import structlog.testing

from kdns.plugins.base import NOERROR, SERVFAIL, BuildContext
from kdns.plugins.hosts import Hosts, HostsConfig
from kdns.plugins.hosts.metrics import ENTRIES, RELOAD_TIMESTAMP
from kdns.plugins.hosts.store import address_from_reverse, parse_hosts, parse_ip
from kdns.plugins.testing import StubHandler, build, load_text, make_request, parse_one, run

HOSTS = """\
# a comment line
127.0.0.1   localhost localhost.example.org   # trailing comment
10.0.0.1    Web.example.org www.example.org
10.0.0.2    web.example.org
::1         localhost.example.org
fdfc:a744:27b5:3b0e::1  v6.example.org
::FFFF:10.0.0.3   mapped.example.org
fe80::1%eth0      link.example.org
10.9.9.9    outside.example.com
not-an-ip   bad.example.org
10.0.0.4
10.0.0.5    *.wild.example.org
10.0.0.6    exact.wild.example.org
"""


def rows(reply: dnslib.DNSRecord) -> list[tuple[str, str, int, str]]:
    """Return the answer section as (owner, type, ttl, data) tuples."""
    return [
        (str(rr.rname), dnslib.QTYPE[rr.rtype], rr.ttl, str(rr.rdata).rstrip("."))
        for rr in reply.rr
    ]


@pytest.fixture
def hosts_file(tmp_path: Path) -> Path:
    path = tmp_path / "hosts"
    path.write_text(HOSTS)
    return path


async def started(text: str, nxt: StubHandler | None = None) -> Hosts:
    handler = build(text, nxt or StubHandler())
    assert isinstance(handler, Hosts)
    await handler.start()
    return handler


ANSWERS = [
    # (query, type, owner+records) -- owners are the lower-cased query, as CoreDNS writes them
    ("web.example.org", "A", [("web.example.org.", "A", 3600, "10.0.0.1"),
                              ("web.example.org.", "A", 3600, "10.0.0.2")]),
    ("WEB.Example.ORG", "A", [("web.example.org.", "A", 3600, "10.0.0.1"),
                              ("web.example.org.", "A", 3600, "10.0.0.2")]),
    ("localhost.example.org", "A", [("localhost.example.org.", "A", 3600, "127.0.0.1")]),
    ("localhost.example.org", "AAAA", [("localhost.example.org.", "AAAA", 3600, "::1")]),
    ("v6.example.org", "AAAA", [("v6.example.org.", "AAAA", 3600, "fdfc:a744:27b5:3b0e::1")]),
    # an IPv4-mapped IPv6 address is an IPv4 entry; an IPv6 zone index is dropped
    ("mapped.example.org", "A", [("mapped.example.org.", "A", 3600, "10.0.0.3")]),
    ("link.example.org", "AAAA", [("link.example.org.", "AAAA", 3600, "fe80::1")]),
    # inline entries come after the file's for the same name
    ("www.example.org", "A", [("www.example.org.", "A", 3600, "10.0.0.1"),
                              ("www.example.org.", "A", 3600, "10.1.1.1")]),
    ("inline.example.org", "A", [("inline.example.org.", "A", 3600, "10.1.1.2")]),
    # wildcards: one label only, exact names first
    ("a.wild.example.org", "A", [("a.wild.example.org.", "A", 3600, "10.0.0.5")]),
    ("Exact.wild.example.org", "A", [("exact.wild.example.org.", "A", 3600, "10.0.0.6")]),
    # PTR, from the file and inline, whatever the reverse zone
    ("1.0.0.10.in-addr.arpa", "PTR", [("1.0.0.10.in-addr.arpa.", "PTR", 3600, "web.example.org"),
                                      ("1.0.0.10.in-addr.arpa.", "PTR", 3600, "www.example.org")]),
    ("2.1.1.10.IN-ADDR.arpa", "PTR", [("2.1.1.10.in-addr.arpa.", "PTR", 3600,
                                       "inline.example.org")]),
    ("3.0.0.10.in-addr.arpa", "PTR", [("3.0.0.10.in-addr.arpa.", "PTR", 3600,
                                       "mapped.example.org")]),
    ("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa", "PTR",
     [("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.", "PTR", 3600,
       "localhost.example.org")]),
    # CoreDNS quirk: the ip6.arpa name of an IPv4-mapped address finds the IPv4 entry
    ("3.0.0.0.0.0.a.0.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa", "PTR",
     [("3.0.0.0.0.0.a.0.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.", "PTR", 3600,
       "mapped.example.org")]),
    # a known name without records of the type: NODATA
    ("web.example.org", "AAAA", []),
    ("web.example.org", "MX", []),
    ("v6.example.org", "A", []),
    ("a.wild.example.org", "TXT", []),
]  # fmt: skip


@pytest.mark.parametrize(("qname", "qtype", "expected"), ANSWERS)
async def test_answers(hosts_file: Path, qname: str, qtype: str, expected: list[object]) -> None:
    """Records come from the file and the inline lines, authoritative, TTL 3600."""
    nxt = StubHandler()
    h = await started(
        f"hosts {hosts_file} example.org {{\n10.1.1.1 www.example.org\n"
        "10.1.1.2 inline.example.org\n}",
        nxt,
    )
    rcode, w = await run(h, make_request(qname, qtype))
    assert rcode == NOERROR
    assert w.reply.header.rcode == NOERROR
    assert w.reply.header.aa == 1
    assert rows(w.reply) == expected
    assert str(w.reply.q.qname) == qname + "."  # the question keeps the client's case
    assert nxt.calls == []


PASSED_ON = [
    ("www.example.com", "A"),  # outside the zones, even with no fallthrough
    ("outside.example.com", "A"),  # in the file but outside the zones: never loaded
    ("9.9.9.10.in-addr.arpa", "PTR"),
    ("99.0.0.10.in-addr.arpa", "PTR"),  # a PTR nobody has goes on, fallthrough or not
    ("web.example.org", "PTR"),  # not a reverse name
    ("0.10.in-addr.arpa", "PTR"),  # not a whole address
    ("5.0.0.10.in-addr.arpa", "PTR"),  # wildcards make no PTR
]


@pytest.mark.parametrize(("qname", "qtype"), PASSED_ON)
async def test_passed_on_without_fallthrough(hosts_file: Path, qname: str, qtype: str) -> None:
    """Names outside the zones and PTR misses go to the next plugin."""
    nxt = StubHandler(answers=("x. 5 IN TXT next",))
    h = await started(f"hosts {hosts_file} example.org", nxt)
    rcode, w = await run(h, make_request(qname, qtype))
    assert rcode == NOERROR
    assert len(nxt.calls) == 1
    assert str(w.reply.rr[0].rdata) == '"next"'


@pytest.mark.parametrize(
    "qname", ["nowhere.example.org", "deep.a.wild.example.org", "wild.example.org"]
)
async def test_unknown_name_is_servfail_unless_fallthrough(hosts_file: Path, qname: str) -> None:
    """An unknown name in the zones gets SERVFAIL (nothing written); fallthrough passes it on."""
    nxt = StubHandler()
    h = await started(f"hosts {hosts_file} example.org", nxt)
    rcode, w = await run(h, make_request(qname, "A"))
    assert (rcode, w.replies, nxt.calls) == (SERVFAIL, [], [])
    h = await started(f"hosts {hosts_file} example.org {{\nfallthrough\n}}", nxt)
    rcode, w = await run(h, make_request(qname, "A"))
    assert rcode == NOERROR
    assert len(nxt.calls) == 1


async def test_fallthrough_zones_limit_what_passes(hosts_file: Path) -> None:
    """With `fallthrough ZONES`, only names in those zones go on; others get SERVFAIL."""
    nxt = StubHandler()
    h = await started(f"hosts {hosts_file} example.org {{\nfallthrough sub.example.org\n}}", nxt)
    assert (await run(h, make_request("x.sub.example.org", "A")))[0] == NOERROR
    assert (await run(h, make_request("x.example.org", "A")))[0] == SERVFAIL
    assert len(nxt.calls) == 1


@pytest.mark.parametrize(
    ("options", "passes"),
    [
        ("fallthrough\nfallthrough_unsupported", True),
        ("fallthrough", False),  # the default: NODATA for a known name
        ("fallthrough_unsupported", False),  # needs fallthrough
        ("fallthrough other.org\nfallthrough_unsupported", False),  # and its zones
    ],
)
async def test_fallthrough_unsupported(hosts_file: Path, options: str, passes: bool) -> None:
    """Unsupported types for a known name go on only with both options and a zone match."""
    nxt = StubHandler()
    h = await started(f"hosts {hosts_file} example.org {{\n{options}\n}}", nxt)
    rcode, w = await run(h, make_request("web.example.org", "TXT"))
    assert rcode == NOERROR
    assert len(nxt.calls) == (1 if passes else 0)
    if not passes:
        assert w.reply.header.aa == 1
        assert w.reply.rr == []
    # supported types are never passed on for a known name
    await run(h, make_request("web.example.org", "AAAA"))
    assert len(nxt.calls) == (1 if passes else 0)


async def test_ttl_and_no_reverse(hosts_file: Path) -> None:
    """`ttl` sets every TTL; `no_reverse` leaves PTR queries to the next plugin."""
    nxt = StubHandler()
    h = await started(f"hosts {hosts_file} example.org {{\nttl 60\nno_reverse\n}}", nxt)
    _, w = await run(h, make_request("web.example.org", "A"))
    assert {rr.ttl for rr in w.reply.rr} == {60}
    await run(h, make_request("1.0.0.10.in-addr.arpa", "PTR"))
    assert len(nxt.calls) == 1


async def test_answers_are_precomputed_per_name_and_type(hosts_file: Path) -> None:
    """The ready answers are a dict keyed by (lower-case name, qtype)."""
    h = await started(f"hosts {hosts_file} example.org")
    assert [str(rr.rdata) for rr in h.answers[("web.example.org.", 1)]] == [
        "10.0.0.1",
        "10.0.0.2",
    ]
    assert ("1.0.0.10.in-addr.arpa.", 12) in h.answers
    assert ("outside.example.com.", 1) not in h.answers


async def test_missing_file_warns_and_inline_is_served(tmp_path: Path) -> None:
    """A missing file is a warning at start; inline entries still answer."""
    path = tmp_path / "absent"
    with structlog.testing.capture_logs() as logs:
        h = await started(f"hosts {path} {{\n10.0.0.7 only.example.org\n}}")
    assert {"event": f"File does not exist: {path}", "log_level": "warning"} in logs
    _, w = await run(h, make_request("only.example.org", "A"))
    assert rows(w.reply) == [("only.example.org.", "A", 3600, "10.0.0.7")]


def in_block_with_root(text: str) -> Hosts:
    """Build the hosts handler of a one-block Corefile, with every directive's config."""
    block = load_text(text).servers[0]
    configs: dict[str, tuple[object, ...]] = {}
    for entry in block.plugins:
        configs[entry.name] = (*configs.get(entry.name, ()), entry.config)
    return Hosts(configs["hosts"], StubHandler(), BuildContext(block.zones, configs))  # type: ignore[arg-type]


@pytest.mark.parametrize("relative", [True, False])
async def test_root_is_the_directory_of_a_relative_file(
    tmp_path: Path, hosts_file: Path, relative: bool
) -> None:
    """CoreDNS joins a relative FILE to the block's root; an absolute FILE is kept."""
    named = hosts_file.name if relative else str(hosts_file)
    other = tmp_path / "elsewhere"
    other.mkdir()
    root = hosts_file.parent if relative else other
    h = in_block_with_root(f"example.org {{\n    root {root}\n    hosts {named}\n}}\n")
    assert h.path == str(hosts_file)
    await h.start()
    _, w = await run(h, make_request("web.example.org", "A"))
    assert rows(w.reply) == [
        ("web.example.org.", "A", 3600, "10.0.0.1"),
        ("web.example.org.", "A", 3600, "10.0.0.2"),
    ]
    await h.stop()


async def test_reload_reads_changes_and_sets_metrics(hosts_file: Path) -> None:
    """A changed file is read again; a vanished one keeps its entries; metrics follow."""
    h = await started(f"hosts {hosts_file} example.org {{\nreload 0\n}}")
    # counted as CoreDNS does: addresses per name (wildcards too) plus names per address
    assert ENTRIES.get((str(hosts_file),)) == 19
    assert RELOAD_TIMESTAMP.get() == pytest.approx(os.stat(hosts_file).st_mtime_ns / 1e9)
    assert await h.reload() is False  # unchanged: not read again

    hosts_file.write_text("10.0.0.99 web.example.org\n")
    os.utime(hosts_file, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    assert await h.reload() is True
    _, w = await run(h, make_request("web.example.org", "A"))
    assert rows(w.reply) == [("web.example.org.", "A", 3600, "10.0.0.99")]
    assert ENTRIES.get((str(hosts_file),)) == 2  # one address, one PTR name
    assert RELOAD_TIMESTAMP.get() == 1_700_000_000.0

    hosts_file.unlink()
    assert await h.reload() is False
    _, w = await run(h, make_request("web.example.org", "A"))
    assert rows(w.reply) == [("web.example.org.", "A", 3600, "10.0.0.99")]


async def test_reload_loop_runs_on_its_period_and_stops(hosts_file: Path) -> None:
    """start() runs the reload task with the configured period; stop() ends it."""
    periods: list[float] = []
    tick = asyncio.Event()

    async def sleep(seconds: float) -> None:
        periods.append(seconds)
        await tick.wait()
        tick.clear()

    config = parse_one(f"hosts {hosts_file} example.org {{\nreload 250ms\n}}")
    assert isinstance(config, HostsConfig)
    h = Hosts((config,), StubHandler(), BuildContext(("example.org.",)), sleep=sleep)
    await h.start()
    hosts_file.write_text("10.0.0.42 new.example.org\n")
    tick.set()
    for _ in range(300):
        if ("new.example.org.", 1) in h.answers:
            break
        await asyncio.sleep(0.01)
    assert ("new.example.org.", 1) in h.answers
    assert periods[:2] == [0.25, 0.25]
    await h.stop()
    assert h._task is None


async def test_reload_zero_starts_no_task(hosts_file: Path) -> None:
    """`reload 0` reads the file once and starts nothing."""
    h = await started(f"hosts {hosts_file} example.org {{\nreload 0\n}}")
    assert h._task is None
    await h.stop()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.1", (4, "10.0.0.1")),
        ("::ffff:10.0.0.1", (4, "10.0.0.1")),
        ("FE80::1%eth0", (6, "fe80::1")),
        ("2001:db8:0:0:1:0:0:1", (6, "2001:db8::1:0:0:1")),
        ("010.0.0.1", None),  # Go rejects leading zeros
        ("10.0.0", None),
        ("example", None),
        ("", None),
    ],
)
def test_parse_ip_follows_go(text: str, expected: tuple[int, str] | None) -> None:
    assert parse_ip(text) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("4.3.2.1.in-addr.arpa.", "1.2.3.4"),
        ("3.2.1.in-addr.arpa.", ""),
        ("x.4.3.2.1.in-addr.arpa.", ""),
        ("1." + "0." * 31 + "ip6.arpa.", "::1"),
        ("extra.1." + "0." * 31 + "ip6.arpa.", "::1"),  # CoreDNS ignores extra labels
        ("example.org.", ""),
    ],
)
def test_address_from_reverse(name: str, expected: str) -> None:
    assert address_from_reverse(name) == expected


def test_parse_skips_what_go_skips() -> None:
    """Short lines, bad addresses, over-long fields and names outside the zones are skipped."""
    text = (
        "10.0.0.1\n"
        "bad a.example.org\n"
        f"10.0.0.2 {'x' * 1100}.example.org ok.example.org\tTab.example.org\r\n"
        "10.0.0.3 a..example.org other.net\n"
    )
    hmap = parse_hosts(text, ("example.org.",))
    assert hmap.name4 == {"ok.example.org.": ["10.0.0.2"], "tab.example.org.": ["10.0.0.2"]}
    assert hmap.addr == {"10.0.0.2": ["ok.example.org.", "tab.example.org."]}
    assert len(hmap) == 4
