"""Every Corefile of the research corpus that CoreDNS serves, `kdns serve` serves too.

Each valid corpus Corefile (tests/corefile/test_corpus.py says which) is started as it is, with
only what ties it to another machine changed: its ports become free ones (a port written twice
keeps one mapping, so `forward . 127.0.0.1:5301` still reaches the `.:5301` block), health,
ready and metrics listen on free loopback ports, addresses this machine does not have become
loopback ones, the files it names (/etc/coredns/..., zone files, certificates) are made in a
temporary folder, and a health lameduck is cut to 100 ms. The kubernetes plugin finds the
project's API server through $KUBECONFIG, as kubectl would. Every dns:// listener must then
answer a query; a Corefile kdns cannot serve must be refused with a clear reason.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import dns.exception
import dns.name
import dns.rcode
import pytest

from kdns.corefile import load
from kdns.plugins import default_registry
from kdns.plugins.kubernetes.apiserver import ApiServer, write_kubeconfig
from kdns.runtime.server import StartError
from kdns.runtime.testing import free_port, query, running

from ..corefile.test_corpus import CORPUS, DEPRECATED, VALID
from .certs import make_certs

#: Corpus Corefiles kdns refuses to serve, with the reason it must give.
REFUSED = {
    "c26-2": "grpc:// is not supported by kdns",
    # upstreams written as placeholders: CoreDNS refuses them too ("not an IP address")
    "c40": "failed to resolve 'x.x.x.x'",
}
#: The rcodes of a reply from a block that serves the zone (upstreams are unreachable here).
ANSWERED = (dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.SERVFAIL)
CLUSTER = Path(__file__).parent / "cluster" / "cluster.yaml"
ZONE = """\
$ORIGIN {origin}
@   3600 IN SOA ns.{origin} hostmaster.{origin} 1 7200 3600 1209600 3600
@   3600 IN NS  ns.{origin}
ns  3600 IN A   127.0.0.1
www 3600 IN A   192.0.2.1
"""
PLUGIN_LISTENERS = re.compile(r"^(\s*)(health|ready|prometheus)\b[ \t]*([^\s{#]*)", re.M)
BIND = re.compile(r"^(\s*bind\s+)([^\s{#]+)", re.M)
FILE = re.compile(r"^(\s*file\s+)([^\s{#]+)", re.M)
TLS = re.compile(r"^(\s*tls\s+)cert\.pem key\.pem ca\.pem", re.M)


def local(address: str) -> bool:
    """Tell whether this machine can bind `address` (an interface name counts as local)."""
    if not re.fullmatch(r"[\d.]+|[0-9a-fA-F:]+", address):
        return True
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        try:
            s.bind((address, 0))
        except OSError:
            return False
    return True


def localised(name: str, text: str, folder: Path) -> str:
    """The corpus Corefile `name`, tied to this machine (see the module doc)."""
    ports: dict[int, int] = {}
    model = load(CORPUS / f"{name}.corefile", default_registry())
    lines = text.splitlines(keepends=True)
    keys = {(a.key.pos.line, a.key.pos.column): a for b in model.servers for a in b.addresses}
    for (line, column), addr in sorted(keys.items(), reverse=True):
        row = lines[line - 1]
        word = addr.key.text
        start = column - 1
        assert row[start : start + len(word)] == word, (name, row, word)
        port = ports.setdefault(addr.port, free_port())
        head = re.sub(r":\d+$", "", word)
        lines[line - 1] = f"{row[:start]}{head}:{port}{row[start + len(word) :]}"
    text = "".join(lines)
    text = re.sub(  # one pass: a new port must not be read again as an old one
        r"127\.0\.0\.1:(\d+)\b",
        lambda m: f"127.0.0.1:{ports.get(int(m.group(1)), int(m.group(1)))}",
        text,
    )

    def listener(m: re.Match[str]) -> str:
        return f"{m.group(1)}{m.group(2)} 127.0.0.1:{free_port()} "

    text = PLUGIN_LISTENERS.sub(listener, text)
    strangers: dict[str, str] = {}

    def bind(m: re.Match[str]) -> str:
        address = m.group(2)
        if local(address):
            return m.group(0)
        new = strangers.setdefault(address, f"127.0.0.{10 + len(strangers)}")
        return f"{m.group(1)}{new}"

    text = BIND.sub(bind, text)
    etc = folder / "etc" / "coredns"
    (etc / "zones").mkdir(parents=True)
    (etc / "NodeHosts").write_text("192.0.2.10 node1.example\n")
    (etc / "zones" / "example.com").write_text(ZONE.format(origin="example.com."))
    text = text.replace("/etc/coredns/", f"{etc}/")

    def zone_file(m: re.Match[str]) -> str:
        path = Path(m.group(2))
        if not path.is_absolute():
            path = folder / path
            path.write_text(ZONE.format(origin=path.name.removeprefix("db.") + "."))
        return f"{m.group(1)}{path}"

    text = FILE.sub(zone_file, text)
    # the lameduck only delays the test's stop (SIGTERM drains are tested in test_shutdown)
    text = re.sub(r"\blameduck\s+\S+", "lameduck 100ms", text)
    if TLS.search(text):
        certs = make_certs(folder / "certs")
        text = TLS.sub(
            lambda m: f"{m.group(1)}{certs.server_cert} {certs.server_key} {certs.ca}", text
        )
    return text


@pytest.fixture
async def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Path]:
    async with ApiServer([CLUSTER], poll_interval=0) as api:
        yield write_kubeconfig(tmp_path_factory.mktemp("api") / "kubeconfig", api.url)


@pytest.mark.parametrize("name", sorted(VALID | set(DEPRECATED)))
async def test_corpus_corefile_is_served(
    name: str, tmp_path: Path, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    text = localised(name, (CORPUS / f"{name}.corefile").read_text(), tmp_path)
    if name in REFUSED:
        with pytest.raises(StartError, match=re.escape(REFUSED[name])):
            async with running(text, tmp_path):
                pass
        return
    async with running(text, tmp_path) as server:
        assert server.current is not None
        asked = 0
        for (transport, host, port), mux in server.current.muxes.items():
            if transport != "dns":
                assert server.pool.bound_port((transport, host, port)) == port
                continue
            zone = next(iter(mux.routes))
            target = "127.0.0.1" if host in ("", "0.0.0.0", "lo") or not host[0].isdigit() else host
            try:
                reply = await query(port, zone, "SOA", host=target, timeout=5)
            except dns.exception.Timeout:
                pytest.fail(f"{name}: no reply on {transport}://{host}:{port} for {zone}")
            # served by a block (a name no block serves is REFUSED), to the question asked
            assert reply.rcode() in ANSWERED, (name, zone, dns.rcode.to_text(reply.rcode()))
            assert [q.name for q in reply.question] == [dns.name.from_text(zone)]
            asked += 1
        assert asked or name == "c26-1" or name == "c26-3"
    await asyncio.sleep(0)
