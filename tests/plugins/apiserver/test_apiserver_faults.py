"""Fault knobs of the test API server: slow answers, watches torn mid-event, 410 storms, bursts."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from kdns.plugins.kubernetes.apiserver import ApiServer

Http = Any  # the conftest client

SERVICES = "/api/v1/services"


def service(name: str, ip: str = "") -> dict[str, Any]:
    """A selector-less Service in default."""
    spec: dict[str, Any] = {"ports": [{"name": "http", "port": 80}]}
    if ip:
        spec["clusterIP"] = ip
    return {"kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


async def listed(http: Http) -> int:
    return int((await http.get(SERVICES)).json()["metadata"]["resourceVersion"])


async def test_slow_holds_every_answer_back(http: Http, server: ApiServer) -> None:
    """`slow(s)` delays lists by s; `slow(0)` answers at once again."""
    server.slow(0.3)
    start = time.monotonic()
    assert (await http.get(SERVICES)).status == 200
    assert time.monotonic() - start >= 0.3
    server.slow(0)
    start = time.monotonic()
    await http.get(SERVICES)
    assert time.monotonic() - start < 0.25


@pytest.mark.parametrize("abort", [True, False])
async def test_torn_watch_sends_half_an_event(http: Http, server: ApiServer, abort: bool) -> None:
    """The next event after `tear_watches` arrives as half a JSON line, then the stream is
    cut (abort) or ends; resuming from the last version seen delivers the event whole."""
    rv = await listed(http)
    stream = await http.watch(f"{SERVICES}?watch=1&resourceVersion={rv}")
    await server.wait_for_watches(1)
    assert server.tear_watches(abort=abort) == 1
    server.apply(service("torn"))
    half = await stream._chunk()
    assert half.startswith(b'{"type":"ADDED"')
    assert not half.endswith(b"\n")
    with pytest.raises(json.JSONDecodeError):
        json.loads(half)
    with pytest.raises(http.Cut if abort else http.Ended):
        await stream.next()
    await server.wait_for_watches(0)
    again = await http.watch(f"{SERVICES}?watch=1&resourceVersion={rv}")
    event = await again.next()
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "torn")
    again.close()


@pytest.mark.parametrize("mode", ["event", "status"])
async def test_refused_watches_get_410_until_lifted(
    http: Http, server: ApiServer, mode: Any
) -> None:
    """While refusing, every watch (from any version) gets 410, as an ERROR event or as the
    response status; lists still work; lifting it serves watches again."""
    server.refuse_watches(mode)
    rv = await listed(http)
    for _ in range(3):
        stream = await http.watch(f"{SERVICES}?watch=1&resourceVersion={rv}")
        if mode == "event":
            assert stream.status == 200
            error = await stream.next()
            assert (error["type"], error["object"]["code"]) == ("ERROR", 410)
            with pytest.raises(http.Ended):
                await stream.next()
        else:
            assert stream.status == 410
        stream.close()
    assert server.refused_watches == 3
    server.refuse_watches(None)
    stream = await http.watch(f"{SERVICES}?watch=1&resourceVersion={rv}")
    await server.wait_for_watches(1)
    server.apply(service("after"))
    assert (await stream.next())["object"]["metadata"]["name"] == "after"
    stream.close()


async def test_burst_applies_and_deletes_in_one_go(http: Http, server: ApiServer) -> None:
    """A burst creates, replaces and deletes; deleting a missing object is skipped; a watch
    sees every change in order."""
    rv = await listed(http)
    stream = await http.watch(f"{SERVICES}?watch=1&resourceVersion={rv}")
    await server.wait_for_watches(1)
    changes: list[Any] = [service(f"b{i}") for i in range(50)]
    changes += [service("b0", "10.3.9.9"), ("services", "default", "b1")]
    changes += [("services", "default", "nosuch")]
    assert server.burst(changes) == 52
    assert server.get("services", "default", "b1") is None
    assert server.get("services", "default", "b0")["spec"]["clusterIP"] == "10.3.9.9"
    events = [await stream.next() for _ in range(52)]
    assert [e["type"] for e in events[-2:]] == ["MODIFIED", "DELETED"]
    stream.close()
