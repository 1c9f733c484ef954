"""rewrite over real sockets, in front of hosts and whoami: names rewritten and mapped back,
TTLs clamped, an rcode changed, a type rewritten, and an EDNS0 option the client never sees."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

from kdns.runtime.testing import free_port, running
from kdns.runtime.testing import query as ask


def answer(reply: dns.message.Message) -> list[str]:
    return [f"{rrs.name} {rrs.ttl} {rdata}" for rrs in reply.answer for rdata in rrs]


def corefile(port: int) -> str:
    return f"""\
example.org:{port} {{
    rewrite continue ttl suffix .example.org 60-120
    rewrite continue edns0 nsid set
    rewrite name regex (.*)\\.alias\\.example\\.org {{1}}.example.org answer auto
    rewrite name short.example.org web.example.org
    rewrite type MX A
    hosts {{
        10.0.0.1 web.example.org
        fallthrough
    }}
    whoami
}}
strict.test:{port} {{
    rewrite rcode suffix .strict.test SERVFAIL NXDOMAIN
    hosts {{
        10.0.0.2 known.strict.test
    }}
}}
"""


async def test_rewrite_in_front_of_hosts() -> None:
    port = free_port()
    async with running(corefile(port)):
        for tcp in (False, True):
            reply = await ask(port, "Web.Alias.example.org", tcp=tcp)
            assert reply.rcode() == dns.rcode.NOERROR
            assert reply.flags & dns.flags.AA
            assert str(reply.question[0].name) == "Web.Alias.example.org."
            # answer auto maps the owner back; the TTL rule clamps hosts' 3600 to 120
            assert answer(reply) == ["web.alias.example.org. 120 10.0.0.1"]
            # nsid was added to the query inside the server only: no OPT for this client
            assert reply.edns < 0

        # an exact rule always maps the answer back
        assert answer(await ask(port, "short.example.org")) == ["short.example.org. 120 10.0.0.1"]

        # the type is rewritten inside; the client's question keeps its type
        mx = await ask(port, "web.example.org", "MX")
        assert mx.question[0].rdtype == dns.rdatatype.MX
        assert answer(mx) == ["web.example.org. 120 10.0.0.1"]

        # names no rule rewrites reach hosts and then whoami as they are
        other = await ask(port, "nobody.example.org")
        assert other.answer == []
        assert any(rrs.rdtype == dns.rdatatype.SRV for rrs in other.additional)

        # hosts without fallthrough fails an unknown name; the rcode rule makes it NXDOMAIN
        missing = await ask(port, "nobody.strict.test")
        assert missing.rcode() == dns.rcode.NXDOMAIN
        assert str(missing.question[0].name) == "nobody.strict.test."
        assert answer(await ask(port, "known.strict.test")) == ["known.strict.test. 3600 10.0.0.2"]
