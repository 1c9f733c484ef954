"""template over real sockets: records built from regex groups, NXDOMAIN with SOA, fallthrough to
whoami, an Extended DNS Error, a followed CNAME, and the matches metric."""

from __future__ import annotations

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

from kdns.plugins.template.metrics import MATCHES
from kdns.runtime.testing import free_port, running
from kdns.runtime.testing import query as ask


def answer(reply: dns.message.Message) -> list[str]:
    return [f"{rrs.name} {rrs.ttl} {rdata}" for rrs in reply.answer for rdata in rrs]


def corefile(port: int) -> str:
    return f"""\
example:{port} {{
    template IN A {{
        match (.*)\\.ip-(?P<a>[0-9]+)-(?P<b>[0-9]+)[.]example[.]$
        answer "{{{{ .Name }}}} 60 IN A 10.0.{{{{ .Group.a }}}}.{{{{ .Group.b }}}}"
        answer "{{{{ .Name }}}} 60 IN A 10.1.{{{{ .Group.b }}}}.{{{{ len (index .Match 1) }}}}"
        fallthrough
    }}
    template IN A alias.example {{
        answer "{{{{ .Name }}}} 30 IN CNAME web.ip-7-8.example."
    }}
    template ANY ANY blocked.example {{
        rcode NXDOMAIN
        authority "blocked.example. 60 IN SOA ns.example. hostmaster.example. (1 60 60 60 60)"
        ederror 17 "Filtered"
    }}
    whoami
}}
"""


async def test_template_serves_over_udp_and_tcp() -> None:
    port = free_port()
    labels = (f"dns://:{port}", "example.", "", "IN", "A")
    before = MATCHES.get(labels)
    async with running(corefile(port)):
        for tcp in (False, True):
            reply = await ask(port, "Host.IP-3-4.example", tcp=tcp)
            assert reply.rcode() == dns.rcode.NOERROR
            assert reply.flags & dns.flags.AA
            assert str(reply.question[0].name) == "Host.IP-3-4.example."
            assert answer(reply) == [
                "host.ip-3-4.example. 60 10.0.3.4",
                "host.ip-3-4.example. 60 10.1.4.4",
            ]

        # no regex matches: fallthrough hands the query to whoami
        passed = await ask(port, "www.example")
        assert passed.answer == []
        assert any(rrs.rdtype == dns.rdatatype.SRV for rrs in passed.additional)

        # a CNAME answer to an A query is followed through the server itself
        alias = await ask(port, "alias.example")
        assert answer(alias) == [
            "alias.example. 30 web.ip-7-8.example.",
            "web.ip-7-8.example. 60 10.0.7.8",
            "web.ip-7-8.example. 60 10.1.8.3",
        ]

        # NXDOMAIN with an SOA; the EDE option only for a client that sent EDNS
        blocked = await ask(port, "x.blocked.example", "TXT", use_edns=0)
        assert blocked.rcode() == dns.rcode.NXDOMAIN
        assert [rrs.rdtype for rrs in blocked.authority] == [dns.rdatatype.SOA]
        ede = [o for o in blocked.options if o.otype == dns.edns.OptionType.EDE]
        assert len(ede) == 1
        assert isinstance(ede[0], dns.edns.EDEOption)
        assert (ede[0].code, ede[0].text) == (17, "Filtered")
        plain = await ask(port, "x.blocked.example", "TXT")
        assert plain.rcode() == dns.rcode.NXDOMAIN
        assert plain.edns < 0
    # over UDP and TCP, and the CNAME target (the CNAME itself counts under alias.example.)
    assert MATCHES.get(labels) == before + 3
