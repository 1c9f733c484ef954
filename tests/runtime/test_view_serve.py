"""view over real sockets: split answers by client address and transport, fallback to the parent
zone, no fast-path answer across views, the view metrics label, and `{/view/name}` in logs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dns.asyncquery
import dns.message
import dns.rcode

from kdns.plugins.prometheus.metrics import REQUESTS
from kdns.runtime.testing import free_port, running

Lines = Callable[[], list[str]]

COREFILE = """\
.:{port} {{
    prometheus 127.0.0.1:{metrics}
    cache
    hosts {{
        10.0.0.2 test.example.org
        10.0.0.6 six.example.org
    }}
}}
.:{port} {{
    view local {{
        expr client_ip() == '127.0.0.1'
    }}
    metadata
    prometheus 127.0.0.1:{metrics}
    log . "{{remote}} {{name}} {{/view/name}}"
    hosts {{
        10.0.0.1 test.example.org
    }}
}}
.:{port} {{
    view tcp {{
        expr proto() == 'tcp'
    }}
    hosts {{
        10.0.0.3 test.example.org
    }}
}}
six.example.org:{port} {{
    view six {{
        expr type() == 'AAAA'
    }}
    hosts {{
        fd00::9 six.example.org
    }}
}}
"""


async def ask(
    port: int, source: str, rdtype: str = "A", *, tcp: bool = False, name: str = "test.example.org"
) -> list[str]:
    """Query `name` from `source`; return the answer's data."""
    msg = dns.message.make_query(name, rdtype)
    if tcp:
        reply = await dns.asyncquery.tcp(msg, "127.0.0.1", port=port, source=source, timeout=3)
    else:
        reply = await dns.asyncquery.udp(msg, "127.0.0.1", port=port, source=source, timeout=3)
    assert reply.rcode() == dns.rcode.NOERROR
    return [rdata.to_text() for rrset in reply.answer for rdata in rrset]


async def test_split_answers_by_view(tmp_path: Path, lines: Lines) -> None:
    port, metrics = free_port(), free_port()
    server = f"dns://:{port}"
    local = (server, ".", "local", "udp", "1", "A")
    default = (server, ".", "", "udp", "1", "A")
    before = REQUESTS.get(local), REQUESTS.get(default)
    async with running(COREFILE.format(port=port, metrics=metrics), tmp_path):
        # the block without a view is written first: views are still tried before it
        assert await ask(port, "127.0.0.2") == ["10.0.0.2"]
        assert await ask(port, "127.0.0.2") == ["10.0.0.2"]  # now in that block's cache
        # the cached answer of the default block must not reach a client of another view
        assert await ask(port, "127.0.0.1") == ["10.0.0.1"]
        assert await ask(port, "127.0.0.2", tcp=True) == ["10.0.0.3"]
        assert await ask(port, "127.0.0.1", tcp=True) == ["10.0.0.1"]  # first match wins
        # six.example.org's only block takes AAAA; other types fall back to the "." blocks
        assert await ask(port, "127.0.0.2", "AAAA", name="six.example.org") == ["fd00::9"]
        assert await ask(port, "127.0.0.2", "A", name="six.example.org") == ["10.0.0.6"]
    assert (REQUESTS.get(local) - before[0], REQUESTS.get(default) - before[1]) == (1, 3)
    assert lines() == [
        "[INFO] 127.0.0.1 test.example.org. local",
        "[INFO] 127.0.0.1 test.example.org. local",
    ]


async def test_metadata_in_a_view_expression(tmp_path: Path) -> None:
    """metadata('view/name') is collected before the block's view is evaluated."""
    port = free_port()
    corefile = f"""\
.:{port} {{
    metadata
    view named {{
        expr metadata('view/name') == 'named' && incidr(client_ip(), '127.0.0.0/31')
    }}
    hosts {{
        10.0.0.1 test.example.org
    }}
}}
.:{port} {{
    hosts {{
        10.0.0.2 test.example.org
    }}
}}
"""
    async with running(corefile, tmp_path):
        assert await ask(port, "127.0.0.1") == ["10.0.0.1"]
        assert await ask(port, "127.0.0.2") == ["10.0.0.2"]
