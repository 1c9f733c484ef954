"""The relay of `kdns serve --workers N`: one watch per configuration in the supervisor, its
Sink calls played in order on every worker's index, and a late subscriber caught up."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest

from kdns.plugins.base import PluginError
from kdns.plugins.kubernetes import KubernetesConfig
from kdns.plugins.kubernetes.index import Index
from kdns.plugins.kubernetes.objects import Endpoint, EndpointSlice, Namespace, Service, Sink
from kdns.plugins.kubernetes.relay import Fanout, Hub, Relay, play

A = KubernetesConfig(zones=("cluster.local.",))
B = KubernetesConfig(zones=("cluster.local.",), ttl=30)


def svc(name: str, ip: str) -> Service:
    return Service("default", name, "ClusterIP", (ip,))


def feed(sink: Sink) -> None:
    """A list of every kind, then events: what a watch hands its Sink."""
    sink.replace("Namespace", [Namespace("default")])
    sink.replace("Service", [svc("a", "10.0.0.1"), svc("b", "10.0.0.2")])
    slice_ = EndpointSlice("default", "a-1", "a", "IPv4", (Endpoint(("10.1.0.1",)),))
    sink.replace("EndpointSlice", [slice_])
    sink.mark_synced()
    sink.apply("Service", "ADDED", svc("c", "10.0.0.3"))
    sink.apply("Service", "DELETED", svc("b", "10.0.0.2"))
    sink.apply("Service", "MODIFIED", svc("a", "10.0.0.9"))


def view(index: Index) -> tuple[Any, ...]:
    return (
        index.synced,
        sorted(index.namespaces),
        sorted(index.services.items()),
        sorted(index.slices.items()),
        [s.cluster_ips for s in index.services_with_ip("10.0.0.9")],
    )


def test_relayed_calls_and_a_catch_up_build_the_same_index() -> None:
    """A subscriber fed from the start and one caught up afterwards hold what the watch said."""
    direct, relayed, late = Index(), Index(), Index()
    fanout = Fanout()
    fanout.outlets[1] = lambda data: play(data, relayed)
    feed(fanout)
    feed(direct)
    fanout.catch_up(lambda data: play(data, late))
    assert view(relayed) == view(direct)
    assert view(late) == view(direct)
    assert view(direct)[0] is True
    assert [s.name for _, s in view(direct)[2]] == ["a", "c"]


def test_fanout_keeps_one_copy_of_what_did_not_change() -> None:
    """A re-list hands over the held object when equal (the Keeps protocol of the watch)."""
    fanout = Fanout()
    held = svc("a", "10.0.0.1")
    fanout.replace("Service", [held])
    assert fanout.known(svc("a", "10.0.0.1")) is held
    moved = svc("a", "10.0.0.2")
    assert fanout.known(moved) is moved


class FakeController:
    """Records starts and stops; feeds its sink one Service when started."""

    started: ClassVar[list[KubernetesConfig]] = []
    stopped: ClassVar[list[KubernetesConfig]] = []

    def __init__(self, config: KubernetesConfig, sink: Sink) -> None:
        self.config, self.sink = config, sink

    async def start(self) -> None:
        if self.config.ttl == 99:
            raise PluginError("kubernetes", "cannot reach the API")
        FakeController.started.append(self.config)
        self.sink.replace("Service", [svc("a", "10.0.0.1")])
        self.sink.mark_synced()

    async def stop(self) -> None:
        FakeController.stopped.append(self.config)


async def test_hub_runs_one_watch_per_configuration_while_someone_listens() -> None:
    FakeController.started, FakeController.stopped = [], []
    hub = Hub(FakeController)
    got: dict[str, list[bytes]] = {"x": [], "y": [], "z": []}
    x = await hub.subscribe(A, got["x"].append)
    y = await hub.subscribe(A, got["y"].append)
    z = await hub.subscribe(B, got["z"].append)
    assert FakeController.started == [A, B]
    assert got["x"] == got["y"]  # the second one was caught up to the same state
    index = Index()
    for data in got["y"]:
        play(data, index)
    assert index.synced
    assert index.service("default", "a") is not None

    await hub.unsubscribe(x)
    assert FakeController.stopped == []
    await hub.unsubscribe(y)
    assert FakeController.stopped == [A]
    await hub.stop()
    assert FakeController.stopped == [A, B]
    await hub.unsubscribe(z)  # after stop: nothing left, nothing raised

    with pytest.raises(PluginError, match="cannot reach the API"):
        await hub.subscribe(KubernetesConfig(zones=("cluster.local.",), ttl=99), print)
    assert hub.watches == {}


async def test_relay_controller_subscribes_plays_and_unsubscribes() -> None:
    """The worker side: start waits for the supervisor's answer; calls are played in order;
    after stop nothing more is played; a failed watch fails the start with its message."""
    sent: list[tuple[Any, ...]] = []
    relay = Relay(sent.append)
    index = Index()
    controller = relay.factory(A, index)
    starting = asyncio.create_task(controller.start())
    await asyncio.sleep(0)
    assert sent == [("subscribe", 1, A)]
    fanout = Fanout()
    fanout.outlets[1] = lambda data: relay.deliver(1, data)
    feed(fanout)
    relay.acknowledge(1, None)
    await starting
    assert index.synced
    assert sorted(s.name for s in index.services.values()) == ["a", "c"]

    await controller.stop()
    assert sent[-1] == ("unsubscribe", 1)
    fanout.apply("Service", "ADDED", svc("late", "10.0.0.7"))
    assert index.service("default", "late") is None

    failing = relay.factory(B, Index())
    starting = asyncio.create_task(failing.start())
    await asyncio.sleep(0)
    relay.acknowledge(2, "plugin/kubernetes: invalid kubeconfig")
    with pytest.raises(PluginError) as err:
        await starting
    assert str(err.value) == "plugin/kubernetes: invalid kubeconfig"
    assert relay.sinks == {}
