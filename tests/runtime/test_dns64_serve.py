"""dns64 over real sockets: AAAA synthesised from hosts' A records for IPv6 clients, not for
IPv4 ones unless allow_ipv4, real AAAA records kept, and the translated metric."""

from __future__ import annotations

from pathlib import Path

import dns.rcode

from kdns.plugins.dns64.metrics import TRANSLATED
from kdns.runtime.testing import free_port, running
from kdns.runtime.testing import query as ask

COREFILE = """\
example.org:{port} {{
    dns64 64:ff9b::/96
    hosts {{
        192.0.2.33 v4only.example.org
        192.0.2.34 dual.example.org
        2001:db8::34 dual.example.org
        ttl 120
    }}
}}
example.net:{port} {{
    dns64 {{
        prefix 2001:db8:122:344::/64
        allow_ipv4
    }}
    hosts {{
        192.0.2.33 v4only.example.net
    }}
}}
"""


def answer(reply: dns.message.Message) -> list[str]:
    return [f"{rrs.name} {rrs.ttl} {rdata}" for rrs in reply.answer for rdata in rrs]


async def test_synthesis_over_udp_and_tcp(tmp_path: Path) -> None:
    port = free_port()
    before = TRANSLATED.get((f"dns://:{port}",))
    async with running(COREFILE.format(port=port), tmp_path):
        for tcp in (False, True):
            reply = await ask(port, "v4only.example.org", "AAAA", host="::1", tcp=tcp)
            assert reply.rcode() == dns.rcode.NOERROR
            assert answer(reply) == ["v4only.example.org. 120 64:ff9b::c000:221"]
        # a name with AAAA records of its own keeps them
        dual = await ask(port, "dual.example.org", "AAAA", host="::1")
        assert answer(dual) == ["dual.example.org. 120 2001:db8::34"]
        # an IPv4 client gets the plain NODATA
        plain = await ask(port, "v4only.example.org", "AAAA")
        assert plain.rcode() == dns.rcode.NOERROR
        assert plain.answer == []
        # A queries are untouched
        a = await ask(port, "v4only.example.org", "A", host="::1")
        assert answer(a) == ["v4only.example.org. 120 192.0.2.33"]
        # allow_ipv4 and a /64 prefix (RFC 6052 skips byte 8)
        net = await ask(port, "v4only.example.net", "AAAA")
        assert answer(net) == ["v4only.example.net. 600 2001:db8:122:344:c0:2:2100:0"]
    assert TRANSLATED.get((f"dns://:{port}",)) - before == 3
