"""loadbalance handler: section ordering, shuffles, prefer, weighted draws and the weight file."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import dnslib
import pytest
import structlog.testing

from kdns.plugins.base import NOERROR, NXDOMAIN, SERVFAIL, BuildContext, PluginError, Request
from kdns.plugins.base import ResponseWriter as Writer
from kdns.plugins.loadbalance import Loadbalance, LoadbalanceConfig
from kdns.plugins.loadbalance.handler import go_duration
from kdns.plugins.loadbalance.weights import WeightFileError, parse_weights
from kdns.plugins.testing import StubHandler, build, make_request, parse_all, run


class Sections:
    """A next handler that writes fixed answer, authority and additional sections."""

    name = "sections"

    def __init__(
        self,
        answer: tuple[str, ...] = (),
        authority: tuple[str, ...] = (),
        additional: tuple[str, ...] = (),
        rcode: int = NOERROR,
    ) -> None:
        self.sections = (answer, authority, additional)
        self.rcode = rcode

    async def serve_dns(self, req: Request, w: Writer) -> int:
        reply = req.reply(self.rcode)
        for lines, add in zip(
            self.sections, (reply.add_answer, reply.add_auth, reply.add_ar), strict=False
        ):
            for line in lines:
                add(*dnslib.RR.fromZone(line))
        w.write(reply)
        return self.rcode


def scripted(values: list[int]) -> Iterator[int]:
    return itertools.chain(values, itertools.repeat(0))


def fixed(values: list[int]) -> object:
    """Return a randbelow that hands out `values` (then zeros), checking each is in range."""
    it = scripted(values)

    def randbelow(n: int) -> int:
        v = next(it)
        assert 0 <= v < n
        return v

    return randbelow


def short(rrs: list[dnslib.RR]) -> list[str]:
    """Render records as `TYPE data` for comparison."""
    return [f"{dnslib.QTYPE[rr.rtype]} {str(rr.rdata).rstrip('.')}" for rr in rrs]


def lb(directive: str, nxt: object, randbelow: object = None) -> Loadbalance:
    handler = build(directive, nxt)  # type: ignore[arg-type]
    assert isinstance(handler, Loadbalance)
    if randbelow is not None:
        handler.randbelow = randbelow  # type: ignore[assignment]
    return handler


A3 = ("x. 60 IN A 10.0.0.1", "x. 60 IN A 10.0.0.2", "x. 60 IN A 10.0.0.3")


@pytest.mark.parametrize(
    ("draws", "expected"),
    [
        ([0, 0, 0], ["A 10.0.0.1", "A 10.0.0.2", "A 10.0.0.3"]),
        ([2, 0, 0], ["A 10.0.0.3", "A 10.0.0.2", "A 10.0.0.1"]),
        ([1, 1, 0], ["A 10.0.0.2", "A 10.0.0.3", "A 10.0.0.1"]),
    ],
)
async def test_round_robin_is_fisher_yates_over_the_random_source(
    draws: list[int], expected: list[str]
) -> None:
    """Three or more addresses: position j swaps with j + randbelow(n - j)."""
    h = lb("loadbalance", Sections(A3), fixed(draws))
    _, w = await run(h, make_request("x.", "A"))
    assert short(w.reply.rr) == expected


@pytest.mark.parametrize(("draw", "first"), [(0, "A 10.0.0.2"), (1, "A 10.0.0.1")])
async def test_two_records_swap_on_an_even_draw(draw: int, first: str) -> None:
    """Two addresses swap when the draw is even, as CoreDNS's `dns.Id() % 2 == 0`."""
    h = lb("loadbalance", Sections(A3[:2]), fixed([draw]))
    _, w = await run(h, make_request("x.", "A"))
    assert short(w.reply.rr)[0] == first


async def test_mixed_section_order_cname_rest_addresses_mx() -> None:
    """CNAMEs first, then other types in their order, then addresses, then MX."""
    answer = (
        "x. 60 IN A 10.0.0.1",
        "x. 60 IN MX 10 mx1.x.",
        "x. 60 IN TXT t1",
        "x. 60 IN CNAME y.",
        "x. 60 IN AAAA ::1",
        "x. 60 IN MX 20 mx2.x.",
        "x. 60 IN TXT t2",
    )
    h = lb("loadbalance", Sections(answer, answer, answer), fixed([1] * 12))
    _, w = await run(h, make_request("x.", "A"))
    expected = [
        "CNAME y",
        'TXT "t1"',
        'TXT "t2"',
        "A 10.0.0.1",  # two addresses, odd draw: kept
        "AAAA ::1",
        "MX 10 mx1.x",
        "MX 20 mx2.x",
    ]
    for section in (w.reply.rr, w.reply.auth, w.reply.ar):
        assert short(section) == expected


@pytest.mark.parametrize(
    ("rcode", "qtype"), [(NXDOMAIN, "A"), (NOERROR, "AXFR"), (NOERROR, "IXFR")]
)
async def test_only_noerror_non_transfer_replies_change(rcode: int, qtype: str) -> None:
    """Error replies and zone transfers pass untouched."""
    h = lb("loadbalance", Sections(A3, rcode=rcode), fixed([2, 1]))
    _, w = await run(h, make_request("x.", qtype))
    assert short(w.reply.rr) == ["A 10.0.0.1", "A 10.0.0.2", "A 10.0.0.3"]


async def test_not_written_and_no_next() -> None:
    """An rcode from the next plugin comes back as is; without one it is an error."""
    h = lb("loadbalance", StubHandler(SERVFAIL, write=False))
    assert (await run(h, make_request("x.", "A")))[0] == SERVFAIL
    with pytest.raises(PluginError, match="plugin/loadbalance: no next plugin found"):
        await run(build("loadbalance"), make_request("x.", "A"))


async def test_every_order_appears_with_the_real_random_source() -> None:
    """Over many replies each of the six orders of three addresses shows up."""
    h = lb("loadbalance round_robin", Sections(A3))
    seen = set()
    for _ in range(300):
        _, w = await run(h, make_request("x.", "A"))
        seen.add(tuple(short(w.reply.rr)))
    assert len(seen) == 6


async def test_prefer_moves_networks_first_in_their_order() -> None:
    """After the shuffle, addresses in the `prefer` networks come first, network by network."""
    answer = (
        "x. 60 IN A 192.168.1.5",
        "x. 60 IN A 10.1.2.3",
        "x. 60 IN MX 10 mx.x.",
        "x. 60 IN AAAA fd00::1",
        "x. 60 IN TXT t",
        "x. 60 IN A 172.16.0.1",
    )
    h = lb(
        "loadbalance {\nprefer fd00::/8 10.0.0.0/8\n}",
        Sections(answer, answer, answer),
        fixed([]),  # zeros: the shuffle keeps the order, so only `prefer` moves records
    )
    _, w = await run(h, make_request("x.", "A"))
    preferred = [
        "AAAA fd00::1",
        "A 10.1.2.3",
        "A 192.168.1.5",
        "A 172.16.0.1",
        "MX 10 mx.x",  # prefer puts MX before the other types
        'TXT "t"',
    ]
    assert short(w.reply.rr) == preferred
    assert short(w.reply.ar) == preferred
    # the authority section is shuffled only
    assert short(w.reply.auth) == [
        'TXT "t"',
        "A 192.168.1.5",
        "A 10.1.2.3",
        "AAAA fd00::1",
        "A 172.16.0.1",
        "MX 10 mx.x",
    ]


WEIGHTS = """\
# comment
www.example.com
10.0.0.1 1
10.0.0.2 250
  # indented comment

other.example.com.
10.0.0.1 5
"""


@pytest.fixture
def weight_file(tmp_path: Path) -> Path:
    path = tmp_path / "weights"
    path.write_text(WEIGHTS)
    return path


WWW = (
    "www.example.com. 60 IN CNAME www.example.com.",
    "www.example.com. 60 IN A 10.0.0.1",
    "www.example.com. 60 IN MX 10 mx.",
    "www.example.com. 60 IN A 10.0.0.2",
    "www.example.com. 60 IN A 10.0.0.3",
)


@pytest.mark.parametrize(
    ("draw", "first"),
    [
        # sorted by weight: .2 (250), then .1 and .3 (1 each, in answer order)
        (0, "A 10.0.0.2"),
        (249, "A 10.0.0.2"),
        (250, "A 10.0.0.1"),
        (251, "A 10.0.0.3"),
    ],
)
async def test_weighted_draws_the_top_address(weight_file: Path, draw: int, first: str) -> None:
    """The drawn address swaps with the first; CNAMEs lead and MX trail; draws are < the sum."""
    h = lb(f"loadbalance weighted {weight_file}", Sections(WWW), fixed([draw]))
    await h.start()
    _, w = await run(h, make_request("www.example.com.", "A"))
    got = short(w.reply.rr)
    assert got[0] == "CNAME www.example.com"
    assert got[1] == first
    assert got[-1] == "MX 10 mx"
    assert sorted(got[1:4]) == ["A 10.0.0.1", "A 10.0.0.2", "A 10.0.0.3"]
    await h.stop()


async def test_weighted_leaves_other_query_types(weight_file: Path) -> None:
    """Only A, AAAA and SRV replies are reordered by weight."""
    h = lb(f"loadbalance weighted {weight_file}", Sections(WWW), fixed([250]))
    await h.start()
    _, w = await run(h, make_request("www.example.com.", "MX"))
    assert short(w.reply.rr)[1] == "A 10.0.0.1"
    assert short(w.reply.rr)[2] == "MX 10 mx"
    await h.stop()


def test_parse_weights() -> None:
    assert parse_weights(WEIGHTS, "wf") == {
        "www.example.com.": {"10.0.0.1": 1, "10.0.0.2": 250},
        "other.example.com.": {"10.0.0.1": 5},
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10.0.0.1\n", 'wrong domain name:"10.0.0.1" in weight file wf. (Maybe a missing'),
        ("a.\nx 1\n", 'wrong IP address:"x" in weight file wf'),
        ("a.\n10.0.0.1 0\n", 'wrong weight value:"0" in weight file wf'),
        ("a.\n10.0.0.1 256\n", 'wrong weight value:"256" in weight file wf'),
        ("a.\n10.0.0.1 -1\n", 'wrong weight value:"-1" in weight file wf'),
        ("10.0.0.1 3\n", "missing domain name in weight file wf"),
        ("a.\n10.0.0.1 3 # no\n", 'could not parse weight line:"10.0.0.1 3 # no" in weight'),
    ],
)
def test_weight_file_errors(text: str, message: str) -> None:
    with pytest.raises(WeightFileError) as info:
        parse_weights(text, "wf")
    assert str(info.value).startswith(message)


async def test_weight_file_startup_errors(tmp_path: Path) -> None:
    """A missing file is retried when reload is on (a warning), fatal when it is off."""
    missing = tmp_path / "none"
    h = lb(f"loadbalance weighted {missing} {{\nreload 0\n}}", StubHandler())
    with pytest.raises(PluginError, match="plugin/loadbalance: weight file open error"):
        await h.start()
    h = lb(f"loadbalance weighted {missing}", StubHandler())
    with structlog.testing.capture_logs() as logs:
        await h.start()
    assert logs[0]["event"] == (
        "Failed to open weight file:weight file open error. Will try again in 30s"
    )
    await h.stop()
    bad = tmp_path / "bad"
    bad.write_text("10.0.0.1\n")
    h = lb(f"loadbalance weighted {bad}", StubHandler())
    with pytest.raises(PluginError, match=r'wrong domain name:"10\.0\.0\.1"'):
        await h.start()


async def test_weight_file_reloads_on_its_period(weight_file: Path) -> None:
    """The reload task re-reads a changed file and logs it; parse errors are logged."""
    periods: list[float] = []
    tick = asyncio.Event()
    done = asyncio.Event()

    async def sleep(seconds: float) -> None:
        periods.append(seconds)
        done.set()
        await tick.wait()
        tick.clear()

    (config,) = parse_all(f"loadbalance weighted {weight_file} {{\nreload 10s\n}}")
    assert isinstance(config, LoadbalanceConfig)
    h = Loadbalance((config,), StubHandler(), BuildContext((".",)), sleep=sleep)
    with structlog.testing.capture_logs() as logs:
        await h.start()
        assert h.weight_file is not None
        assert h.weight_file.weights["www.example.com."]["10.0.0.2"] == 250
        for content in ("www.example.com\n10.0.0.2 7\n", "garbage line here\n"):
            weight_file.write_text(content)
            done.clear()
            tick.set()
            await done.wait()  # the loop went round once and sleeps again
        await h.stop()
    assert h.weight_file.weights == {"www.example.com.": {"10.0.0.2": 7}}
    events = [(e["log_level"], e["event"]) for e in logs]
    assert events == [
        ("info", f"Successfully reloaded weight file {weight_file}"),
        ("info", f"Successfully reloaded weight file {weight_file}"),
        ("error", f'could not parse weight line:"garbage line here" in weight file {weight_file}'),
    ]
    assert periods == [10.0, 10.0, 10.0]


async def test_several_lines_last_policy_wins(weight_file: Path) -> None:
    """Like CoreDNS, the last loadbalance line's policy is the one used."""
    h = lb(f"loadbalance weighted {weight_file}\nloadbalance round_robin", Sections(A3))
    assert h.reorder == h._round_robin
    h = lb(f"loadbalance\nloadbalance weighted {weight_file}", Sections(A3))
    assert h.reorder == h._weighted


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(30, "30s"), (90, "1m30s"), (3600, "1h0m0s"), (0.3, "300ms"), (1.5, "1.5s")],
)
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text
