"""The supervisor's sum of its workers' metrics (runtime/tally.py), and how a configuration
travels to a worker (the model itself, or its digest when it does not pickle)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kdns.corefile import load
from kdns.plugins import default_registry
from kdns.plugins.kubernetes.relay import Relay
from kdns.plugins.metrics import Registry
from kdns.runtime.chain import BuildError
from kdns.runtime.generation import config_digest
from kdns.runtime.server import RunOptions
from kdns.runtime.tally import Tally
from kdns.runtime.worker import WorkerServer, worker_registry
from kdns.runtime.workers import payload

REQ = ("coredns_dns_requests_total", "Requests.", ("server",), "counter", ())
DUR = ("coredns_dns_request_duration_seconds", "Durations.", ("server",), "histogram", (0.1, 1.0))
CACHE = ("coredns_cache_entries", "Entries.", ("type",), "gauge", ())
INFO = ("coredns_build_info", "Build.", ("version",), "gauge", ())


def snapshot(requests: float, bins: list[int], entries: float) -> list[tuple[object, ...]]:
    return [
        (*REQ, {("dns://:53",): requests}, {}, {}),
        (*DUR, {}, {("dns://:53",): bins}, {("dns://:53",): 0.01 * sum(bins)}),
        (*CACHE, {("success",): entries}, {}, {}),
        (*INFO, {("1.0",): 1.0}, {}, {}),
    ]


def test_counts_add_up_and_never_go_down_when_a_worker_is_replaced() -> None:
    registry = Registry()
    tally = Tally(registry)
    one, two, three = object(), object(), object()
    tally.add(one, 0, snapshot(10, [5, 5, 0], 4))
    tally.add(two, 1, snapshot(3, [3, 0, 0], 9))
    tally.add(one, 0, snapshot(12, [6, 6, 0], 2))
    requests = registry.metrics["coredns_dns_requests_total"]
    assert requests.get(("dns://:53",)) == 15
    durations = registry.metrics["coredns_dns_request_duration_seconds"]
    assert durations.counts[("dns://:53",)] == [9, 6, 0]
    assert durations.sums[("dns://:53",)] == pytest.approx(0.15)
    assert registry.metrics["coredns_cache_entries"].get(("success",)) == 9  # the largest
    assert "coredns_build_info" not in registry.metrics  # the supervisor's own
    per_worker = registry.metrics["kdns_worker_requests_total"]
    assert (per_worker.get(("0",)), per_worker.get(("1",))) == (12, 3)

    tally.forget(two)  # worker 1 died: its counts stay, its gauges go
    assert requests.get(("dns://:53",)) == 15
    assert registry.metrics["coredns_cache_entries"].get(("success",)) == 2
    tally.add(three, 1, snapshot(1, [1, 0, 0], 0))
    assert requests.get(("dns://:53",)) == 16
    assert per_worker.get(("1",)) == 4
    tally.forget(one)
    tally.forget(three)
    assert registry.metrics["coredns_cache_entries"].values == {}


async def test_a_configuration_travels_as_a_model_or_as_a_checked_digest(tmp_path: Path) -> None:
    conf = tmp_path / "Corefile"
    conf.write_text(".:1053 {\n    view v {\n        expr name() == 'a.'\n    }\n    whoami\n}\n")
    model = load(str(conf), default_registry())
    how, data = payload(model, config_digest(model))
    assert how == "disk"  # a compiled view expression does not pickle
    server = WorkerServer(
        RunOptions(str(conf), 1053), worker_registry(default_registry(), Relay(print))
    )
    assert config_digest(server.model_of(how, data)) == data
    conf.write_text(".:1053 {\n    whoami\n}\n")
    with pytest.raises(BuildError, match="changed while the workers"):
        server.model_of(how, data)
    plain = load(str(conf), default_registry())
    how, data = payload(plain, config_digest(plain))
    assert how == "model"
    assert server.model_of(how, data) == plain
