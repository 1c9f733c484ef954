"""log over real sockets: the lines a running server writes for queries, as CoreDNS writes them."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

import dns.asyncquery
import dns.message
import dns.rcode

from kdns.runtime.testing import free_port, query, running

#: Every query carries ID 4242, so log lines are predictable.
ask = functools.partial(query, ident=4242)

Lines = Callable[[], list[str]]
DURATION = r"\d+(\.\d+)?s"


def logged(lines: Lines) -> list[str]:
    """Return the lines logged."""
    return lines()


async def test_common_log_lines_for_udp_tcp_and_ipv6(lines: Lines) -> None:
    """One line per query: client, id, question, EDNS, rcode, flags, reply size, duration."""
    port = free_port()
    async with running(f".:{port} {{\n    log\n    whoami\n}}\n"):
        src = [free_port() for _ in range(3)]
        reply = await ask(port, "example.org", source_port=src[0], use_edns=0, payload=4096)
        assert reply.rcode() == dns.rcode.NOERROR
        await ask(port, "example.org", "AAAA", ident=7, tcp=True, source_port=src[1])
        await ask(port, "www.example.org", ident=65535, host="::1", source_port=src[2])
    # whoami's reply: header 12, question, its A/AAAA record, SRV; the server's OPT is added
    # after log measured it, as in CoreDNS
    expected = [
        f'[INFO] 127.0.0.1:{src[0]} - 4242 "A IN example.org. udp 40 false 4096" NOERROR '
        "qr,aa,rd 91 ",
        f'[INFO] 127.0.0.1:{src[1]} - 7 "AAAA IN example.org. tcp 29 false 65535" NOERROR '
        "qr,aa,rd 91 ",
        f'[INFO] [::1]:{src[2]} - 65535 "A IN www.example.org. udp 33 false 512" NOERROR '
        "qr,aa,rd 115 ",
    ]
    got = logged(lines)
    assert len(got) == len(expected), got
    for line, start in zip(got, expected, strict=True):
        assert line.startswith(start), (line, start)
        assert re.fullmatch(DURATION, line.removeprefix(start)), line


async def test_query_lines_carry_no_logger_name(lines: Lines) -> None:
    port = free_port()
    async with running(f".:{port} {{\n    log . {{type}}\n    whoami\n}}\n"):
        await ask(port, "example.org", "MX")
    assert lines() == ["[INFO] MX"]


async def test_rules_pick_names_and_classes_and_errors_follow_log(lines: Lines) -> None:
    """The first rule covering a name decides; a failing chain logs SERVFAIL, then the error."""
    port = free_port()
    corefile = f"""
.:{port} {{
    log example.org "{{name}} {{rcode}}"
    log . "{{type}} {{name}} {{rcode}}" {{
        class denial
    }}
    whoami
}}
broken.test:{port} {{
    log . "{{>id}} {{name}} {{rcode}} {{>rflags}} {{rsize}} {{/none}} {{combined}}" {{
        class error
    }}
    errors
}}
"""
    async with running(corefile):
        await ask(port, "www.Example.org")  # logged by the first rule
        await ask(port, "example.com")  # second rule: denials only, whoami succeeds
        reply = await ask(port, "a.broken.test", "TXT", ident=99)
        assert reply.rcode() == dns.rcode.SERVFAIL
    assert logged(lines) == [
        "[INFO] www.example.org. NOERROR",
        "[INFO] 99 a.broken.test. SERVFAIL qr,rd 31 - {combined}",
        "[ERROR] plugin/errors: 2 a.broken.test. TXT: plugin/log: no next plugin found",
    ]


async def test_combined_format_adds_the_opcode(lines: Lines) -> None:
    port = free_port()
    async with running(f".:{port} {{\n    log . {{combined}}\n    whoami\n}}\n"):
        await ask(port, "example.org", ident=1)
    (line,) = logged(lines)
    assert line.startswith("[INFO] 127.0.0.1:")
    assert ' - 1 "A IN example.org. udp 29 false 512" NOERROR qr,aa,rd 91 ' in line
    assert line.endswith('s "0"')
