"""loadbalance over real sockets, in front of hosts: every order appears, prefer and weights."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import dns.asyncquery
import dns.message
import dns.rcode

from kdns.runtime.testing import free_port, running

HOSTS = """\
        10.0.0.1 lb.example.org
        10.0.0.2 lb.example.org
        10.0.0.3 lb.example.org
"""


async def order(port: int, name: str = "lb.example.org") -> tuple[str, ...]:
    query = dns.message.make_query(name, "A")
    reply = await dns.asyncquery.udp(query, "127.0.0.1", port=port, timeout=3)
    assert reply.rcode() == dns.rcode.NOERROR
    return tuple(rdata.address for rrs in reply.answer for rdata in rrs)


async def test_round_robin_shows_every_order() -> None:
    """Over many queries, all six orders of three addresses come back."""
    port = free_port()
    text = f"example.org:{port} {{\n    loadbalance\n    hosts {{\n{HOSTS}    }}\n}}\n"
    async with running(text):
        seen = Counter([await order(port) for _ in range(200)])
    assert set(seen) == {
        ("10.0.0.1", "10.0.0.2", "10.0.0.3"),
        ("10.0.0.1", "10.0.0.3", "10.0.0.2"),
        ("10.0.0.2", "10.0.0.1", "10.0.0.3"),
        ("10.0.0.2", "10.0.0.3", "10.0.0.1"),
        ("10.0.0.3", "10.0.0.1", "10.0.0.2"),
        ("10.0.0.3", "10.0.0.2", "10.0.0.1"),
    }


async def test_without_loadbalance_the_order_is_fixed() -> None:
    """The same block without loadbalance always answers in file order (the control)."""
    port = free_port()
    async with running(f"example.org:{port} {{\n    hosts {{\n{HOSTS}    }}\n}}\n"):
        assert {await order(port) for _ in range(20)} == {("10.0.0.1", "10.0.0.2", "10.0.0.3")}


async def test_prefer_puts_the_network_first() -> None:
    """`prefer` keeps addresses of its networks first, whatever the shuffle did."""
    port = free_port()
    text = (
        f"example.org:{port} {{\n    loadbalance {{\n        prefer 10.0.0.3/32\n    }}\n"
        f"    hosts {{\n{HOSTS}    }}\n}}\n"
    )
    async with running(text):
        firsts = {(await order(port))[0] for _ in range(30)}
    assert firsts == {"10.0.0.3"}


async def test_weighted_favours_the_heavy_address(tmp_path: Path) -> None:
    """With weights 253 : 1 : 1 the heavy address is first in nearly every reply."""
    weights = tmp_path / "weights"
    weights.write_text("lb.example.org\n10.0.0.2 253\n")
    port = free_port()
    text = (
        f"example.org:{port} {{\n    loadbalance weighted {weights}\n"
        f"    hosts {{\n{HOSTS}    }}\n}}\n"
    )
    async with running(text):
        firsts = Counter([(await order(port))[0] for _ in range(60)])
    assert firsts["10.0.0.2"] >= 50
