"""prometheus handler: what one query adds to each metric, label by label, and /metrics."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import dnslib
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kdns.plugins.base import (
    NOERROR,
    NXDOMAIN,
    REFUSED,
    SERVFAIL,
    BuildContext,
    PluginError,
    Request,
    ResponseWriter,
)
from kdns.plugins.metrics import DURATION_BUCKETS, SIZE_BUCKETS, Registry
from kdns.plugins.prometheus import Prometheus, PrometheusConfig
from kdns.plugins.prometheus.exposition import bucket_bound, make_registry, render
from kdns.plugins.prometheus.handler import metrics_route
from kdns.plugins.prometheus.metrics import (
    DO_REQUESTS,
    DURATION,
    PLUGIN_ENABLED,
    REQUEST_SIZE,
    REQUESTS,
    RESPONSE_SIZE,
    RESPONSES,
    rcode_label,
    type_label,
)
from kdns.plugins.testing import build, make_request, run

_servers = itertools.count(1)


def fresh_server() -> str:
    """Return a listener label no other test used, so the process-wide counters start at 0."""
    return f"dns://:{next(_servers) + 40000}"


class Answer:
    """A next plugin that writes a reply with `rcode` (and one A record) as `answerer`."""

    name = "answer"

    def __init__(self, rcode: int = NOERROR, answerer: str = "file") -> None:
        self.rcode, self.answerer = rcode, answerer

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        reply = req.reply(self.rcode, aa=True)
        if self.rcode == NOERROR:
            reply.add_answer(*dnslib.RR.fromZone(f"{req.name} 60 IN A 192.0.2.1"))
        req.answered_by = self.answerer
        w.write(reply)
        return self.rcode


class Fail:
    """A next plugin that writes nothing and returns `rcode`, or raises a PluginError."""

    name = "fail"

    def __init__(self, rcode: int = SERVFAIL, error: bool = False) -> None:
        self.rcode, self.error = rcode, error

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        if self.error:
            raise PluginError("forward", "no healthy upstream")
        return self.rcode


@dataclass
class Case:
    """One query through prometheus, and the labels and values it must add."""

    id: str
    nxt: object
    rcode: str
    plugin: str
    qtype: str = "A"
    type: str = "A"
    proto: str = "udp"
    family: str = "1"
    remote: tuple[str, int] = ("10.0.0.1", 5353)
    do: bool = False
    written: bool = True


CASES = [
    Case("answer", Answer(), "NOERROR", "file"),
    Case("nxdomain", Answer(NXDOMAIN, "kubernetes"), "NXDOMAIN", "kubernetes"),
    Case("servfail not written", Fail(SERVFAIL), "SERVFAIL", "", written=False),
    Case("refused not written", Fail(REFUSED), "REFUSED", "", written=False),
    Case("tcp", Answer(), "NOERROR", "file", proto="tcp"),
    Case("ipv6 client", Answer(), "NOERROR", "file", family="2", remote=("2001:db8::1", 53)),
    Case("do bit", Answer(), "NOERROR", "file", do=True),
    Case("https is counted by name", Answer(), "NOERROR", "file", qtype="HTTPS", type="HTTPS"),
    Case("axfr is counted by name", Answer(), "NOERROR", "file", qtype="AXFR", type="AXFR"),
    Case("svcb is other", Answer(), "NOERROR", "file", qtype="SVCB", type="other"),
    Case("caa is other", Answer(), "NOERROR", "file", qtype="CAA", type="other"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_one_query(case: Case) -> None:
    handler = build("prometheus", case.nxt)  # type: ignore[arg-type]
    server = fresh_server()
    req = make_request(
        "www.example.org",
        case.qtype,
        proto=case.proto,  # type: ignore[arg-type]
        remote=case.remote,
        do=case.do,
        server=server,
        zone="example.org.",
    )
    rcode, w = await run(handler, req)
    assert len(w.replies) == (1 if case.written else 0)
    zone_labels = (server, "example.org.", "")
    assert REQUESTS.get((*zone_labels, case.proto, case.family, case.type)) == 1
    assert RESPONSES.get((*zone_labels, case.rcode, case.plugin)) == 1
    assert DO_REQUESTS.get(zone_labels) == (1 if case.do else 0)
    assert sum(DURATION.counts[zone_labels]) == 1
    sizes = (*zone_labels, case.proto)
    assert REQUEST_SIZE.sums[sizes] == req.size
    expected = len(w.replies[0].pack()) if case.written else 0
    assert RESPONSE_SIZE.sums[sizes] == expected
    assert sum(RESPONSE_SIZE.counts[sizes]) == 1
    assert rcode == (NOERROR if case.rcode == "NOERROR" else getattr(dnslib.RCODE, case.rcode))


async def test_plugin_error_is_counted_as_servfail_and_passed_on() -> None:
    handler = build("prometheus", Fail(error=True))  # type: ignore[arg-type]
    server = fresh_server()
    with pytest.raises(PluginError, match="no healthy upstream"):
        await run(handler, make_request("a.example.org", server=server, zone="example.org."))
    assert RESPONSES.get((server, "example.org.", "", "SERVFAIL", "")) == 1


async def test_no_next_plugin_is_a_servfail() -> None:
    handler = build("prometheus")
    server = fresh_server()
    with pytest.raises(PluginError, match="plugin/prometheus: no next plugin found"):
        await run(handler, make_request("a.example.org", server=server))
    assert RESPONSES.get((server, "example.org.", "", "SERVFAIL", "")) == 1


async def test_duration_uses_the_clock_and_coredns_buckets() -> None:
    handler = build("prometheus", Answer())  # type: ignore[arg-type]
    assert isinstance(handler, Prometheus)
    ticks = iter([10.0, 10.003])
    handler.clock = lambda: next(ticks)
    server = fresh_server()
    await run(handler, make_request("a.example.org", server=server))
    labels = (server, "example.org.", "")
    counts = DURATION.counts[labels]
    assert counts[DURATION_BUCKETS.index(0.004)] == 1  # 3ms lands in le=0.004
    assert DURATION.sums[labels] == pytest.approx(0.003)


async def test_request_size_is_the_wire_size_of_the_query() -> None:
    handler = build("prometheus", Answer())  # type: ignore[arg-type]
    server = fresh_server()
    req = make_request("a.example.org", bufsize=4096, server=server)
    await run(handler, req)
    sizes = (server, "example.org.", "", "udp")
    assert REQUEST_SIZE.sums[sizes] == len(req.msg.pack()) == 42
    assert REQUEST_SIZE.counts[sizes][SIZE_BUCKETS.index(100)] == 1


async def test_response_size_prefers_what_the_writer_reports() -> None:
    class SizedWriter:
        size = 0

        def write(self, reply: dnslib.DNSRecord) -> None:
            self.size = 777

    handler = build("prometheus", Answer())  # type: ignore[arg-type]
    server = fresh_server()
    await handler.serve_dns(make_request("a.example.org", server=server), SizedWriter())
    assert RESPONSE_SIZE.sums[(server, "example.org.", "", "udp")] == 777


@pytest.mark.parametrize(
    ("qname", "zone"),
    [
        ("www.example.net", "example.net."),
        ("a.b.sub.example.org", "sub.example.org."),
        ("www.example.org", "example.org."),
        ("EXAMPLE.NET", "example.net."),
    ],
)
async def test_zone_is_the_longest_zone_of_the_block(qname: str, zone: str) -> None:
    handler = build("prometheus", Answer(), keys="example.org sub.example.org example.net")  # type: ignore[arg-type]
    server = fresh_server()
    await run(handler, make_request(qname, server=server))
    assert REQUESTS.get((server, zone, "", "udp", "1", "A")) == 1


async def test_view_label_comes_from_the_request() -> None:
    handler = build("prometheus", Answer())  # type: ignore[arg-type]
    server = fresh_server()
    req = make_request("a.example.org", server=server)
    req.view = "internal"
    await run(handler, req)
    assert REQUESTS.get((server, "example.org.", "internal", "udp", "1", "A")) == 1


@pytest.mark.parametrize(
    ("code", "label"),
    [(0, "NOERROR"), (2, "SERVFAIL"), (4, "NOTIMP"), (9, "NOTAUTH"), (16, "BADSIG"),
     (23, "BADCOOKIE"), (12, "RCODE12"), (3841, "RCODE3841")],
)  # fmt: skip
def test_rcode_label(code: int, label: str) -> None:
    assert rcode_label(code) == label


@pytest.mark.parametrize(
    ("qtype", "label"),
    [(1, "A"), (28, "AAAA"), (6, "SOA"), (255, "ANY"), (251, "IXFR"), (65, "HTTPS"),
     (64, "other"), (13, "other"), (65280, "other")],
)  # fmt: skip
def test_type_label(qtype: int, label: str) -> None:
    assert type_label(qtype) == label


def _ctx(server: str, zones: tuple[str, ...] = ("example.org.",)) -> BuildContext:
    configs: dict[str, tuple[object, ...]] = {
        "health": (),
        "prometheus": (PrometheusConfig(zones),),
        "errors": (),
        "cache": (),
        "whoami": (),
    }
    return BuildContext(zones=zones, configs=configs, servers=(server,))


async def test_plugin_enabled_lists_the_chain_plugins_while_running() -> None:
    server = fresh_server()
    old = Prometheus((PrometheusConfig(("example.org.",)),), None, _ctx(server))
    new = Prometheus((PrometheusConfig(("example.org.",)),), None, _ctx(server))
    await old.start()
    names = {k[3] for k, v in PLUGIN_ENABLED.values.items() if k[0] == server and v == 1}
    assert names == {"prometheus", "errors", "cache", "whoami"}  # health is not in the chain
    await new.start()  # a reload: the new generation starts before the old one stops
    await old.stop()
    assert PLUGIN_ENABLED.get((server, "example.org.", "", "cache")) == 1
    await new.stop()
    assert not [k for k in PLUGIN_ENABLED.values if k[0] == server]


def test_tls_is_refused_at_build() -> None:
    config = PrometheusConfig(("example.org.",), tls_config="/etc/web.yml")
    with pytest.raises(PluginError, match="cannot serve /metrics over HTTPS"):
        Prometheus((config,), None, _ctx(fresh_server()))


def test_http_address_and_route() -> None:
    handler = build("prometheus 127.0.0.1:9253")
    assert isinstance(handler, Prometheus)
    assert handler.http_address() == ("127.0.0.1", 9253)
    assert handler.http_routes() == {"/metrics": metrics_route}
    assert build("prometheus").http_address() == ("localhost", 9153)  # type: ignore[attr-defined]


# -- exposition --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bound", "text"),
    [(0.00025, "0.00025"), (0.0005, "0.0005"), (8.192, "8.192"), (0, "0"), (511, "511"),
     (64000, "64000"), (16e3, "16000")],
)  # fmt: skip
def test_bucket_bounds_are_written_as_go_does(bound: float, text: str) -> None:
    assert bucket_bound(bound) == text


def test_exposition_of_a_registry() -> None:
    reg = Registry()
    requests = reg.counter("coredns_dns_requests_total", "Requests.", ("server", "zone"))
    requests.inc(("dns://:53", "."), 3)
    reg.gauge("coredns_plugin_enabled", "Enabled.", ("name",)).set(("cache",), 1)
    sizes = reg.histogram("coredns_dns_request_size_bytes", "Sizes.", ("proto",), (0, 100, 511))
    for value in (0, 42, 120, 9000):
        sizes.observe(("udp",), value)
    reg.counter("coredns_panics_total", "Panics.")
    text = render(make_registry(reg)).decode()
    assert "# TYPE coredns_dns_requests_total counter" in text
    assert 'coredns_dns_requests_total{server="dns://:53",zone="."} 3.0' in text
    assert 'coredns_plugin_enabled{name="cache"} 1.0' in text
    assert "coredns_panics_total" not in text  # never set: no series
    families = {f.name: f for f in text_string_to_metric_families(text)}
    buckets = {
        s.labels["le"]: s.value
        for s in families["coredns_dns_request_size_bytes"].samples
        if s.name.endswith("_bucket")
    }
    assert buckets == {"0": 1, "100": 2, "511": 3, "+Inf": 4}
    sums = [
        s for s in families["coredns_dns_request_size_bytes"].samples if s.name.endswith("_sum")
    ]
    assert sums[0].value == 9162
    assert "process_cpu_seconds_total" in text or "python_info" in text


def test_metrics_route_serves_the_process_registry() -> None:
    status, ctype, body = metrics_route(None)  # type: ignore[arg-type]
    assert (status, ctype) == (200, "text/plain; version=0.0.4; charset=utf-8")
    assert b"# TYPE coredns_dns_requests_total counter" in body
    assert b"python_info" in body
