"""prometheus over real sockets: queries in, CoreDNS-named counters out on /metrics."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import dns.asyncquery
import dns.message
import dns.rcode
from prometheus_client.parser import text_string_to_metric_families

from kdns.runtime.testing import free_port, running

Samples = list[tuple[str, dict[str, str], float]]


async def http(port: int, path: str) -> tuple[int, bytes]:
    """GET 127.0.0.1:port/path; return the status and the body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: kdns\r\nConnection: close\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def scrape(port: int) -> Samples:
    """Return every sample /metrics serves, parsed as Prometheus does."""
    status, body = await http(port, "/metrics")
    assert status == 200
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    ]


def value(samples: Samples, metric: str, /, **labels: str) -> float:
    """Return the one sample `metric` whose labels include `labels` (0 when there is none)."""
    found = [v for n, lbl, v in samples if n == metric and labels.items() <= lbl.items()]
    assert len(found) <= 1, found
    return found[0] if found else 0.0


async def udp_raw(port: int, query: dns.message.Message) -> bytes:
    """Send a query over UDP and return the reply's bytes as they came."""
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        await loop.sock_sendall(sock, query.to_wire())
        return await asyncio.wait_for(loop.sock_recv(sock, 65535), 3)


def corefile(dns_port: int, metrics_port: int, *, with_whoami: bool = True) -> str:
    whoami = "    whoami\n" if with_whoami else ""
    return (
        f"example.org:{dns_port} {{\n    prometheus 127.0.0.1:{metrics_port}\n{whoami}}}\n"
        # no plugin after prometheus: every query is SERVFAIL, written by the server
        f"example.net:{dns_port} {{\n    prometheus 127.0.0.1:{metrics_port}\n}}\n"
    )


async def test_queries_are_counted_with_coredns_labels(tmp_path: Path) -> None:
    dns_port, metrics_port = free_port(), free_port()
    server_label = f"dns://:{dns_port}"
    async with running(corefile(dns_port, metrics_port), tmp_path):
        sizes = [
            len(await udp_raw(dns_port, dns.message.make_query("www.example.org", "A")))
            for _ in range(2)
        ]
        secure = dns.message.make_query("www.example.org", "A", want_dnssec=True)
        sizes.append(len(await udp_raw(dns_port, secure)))
        tcp = dns.message.make_query("mail.example.org", "MX")
        await dns.asyncquery.tcp(tcp, "127.0.0.1", port=dns_port, timeout=3)
        failed = dns.message.make_query("www.example.net", "TYPE65280")
        reply = await dns.asyncquery.udp(failed, "127.0.0.1", port=dns_port, timeout=3)
        assert reply.rcode() == dns.rcode.SERVFAIL

        samples = await scrape(metrics_port)
        org = {"server": server_label, "zone": "example.org.", "view": ""}
        net = {"server": server_label, "zone": "example.net.", "view": ""}
        requests = "coredns_dns_requests_total"
        assert value(samples, requests, **org, proto="udp", family="1", type="A") == 3
        assert value(samples, requests, **org, proto="tcp", family="1", type="MX") == 1
        assert value(samples, requests, **net, proto="udp", family="1", type="other") == 1
        responses = "coredns_dns_responses_total"
        assert value(samples, responses, **org, rcode="NOERROR", plugin="whoami") == 4
        assert value(samples, responses, **net, rcode="SERVFAIL", plugin="") == 1
        assert value(samples, "coredns_dns_do_requests_total", **org) == 1
        assert value(samples, "coredns_dns_do_requests_total", **net) == 0
        duration = "coredns_dns_request_duration_seconds_count"
        assert value(samples, duration, **org) == 4
        response_sum = "coredns_dns_response_size_bytes_sum"
        assert value(samples, response_sum, **org, proto="udp") == sum(sizes)
        assert value(samples, response_sum, **net, proto="udp") == 0  # the server wrote it
        request_count = "coredns_dns_request_size_bytes_count"
        assert value(samples, request_count, **org, proto="udp") == 3
        enabled = "coredns_plugin_enabled"
        assert value(samples, enabled, **org, name="whoami") == 1
        assert value(samples, enabled, **org, name="prometheus") == 1
        assert value(samples, enabled, **net, name="prometheus") == 1
        assert value(samples, enabled, **net, name="whoami") == 0
        # exported even when zero (other tests of this process may have counted panics)
        assert any(n == "coredns_panics_total" for n, _, _ in samples)
        build = [lbl for n, lbl, _ in samples if n == "coredns_build_info"]
        assert build
        assert build[0]["goversion"].startswith("python3.")
        assert any(n.startswith(("process_", "python_")) for n, _, _ in samples)


async def test_plugin_enabled_follows_a_reload(tmp_path: Path) -> None:
    dns_port, metrics_port = free_port(), free_port()
    org = {"server": f"dns://:{dns_port}", "zone": "example.org."}
    async with running(corefile(dns_port, metrics_port), tmp_path) as server:
        samples = await scrape(metrics_port)
        assert value(samples, "coredns_plugin_enabled", **org, name="whoami") == 1
        (tmp_path / "Corefile").write_text(corefile(dns_port, metrics_port, with_whoami=False))
        assert await server.reload()
        samples = await scrape(metrics_port)
        assert value(samples, "coredns_plugin_enabled", **org, name="whoami") == 0
        assert value(samples, "coredns_plugin_enabled", **org, name="prometheus") == 1


async def test_metrics_http_details(tmp_path: Path) -> None:
    dns_port, metrics_port = free_port(), free_port()
    async with running(corefile(dns_port, metrics_port), tmp_path):
        reader, writer = await asyncio.open_connection("127.0.0.1", metrics_port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: kdns\r\n\r\n")
        head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode()
        writer.close()
        assert head.startswith("HTTP/1.1 200 OK\r\n")
        assert "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n" in head
        assert (await http(metrics_port, "/health"))[0] == 404
