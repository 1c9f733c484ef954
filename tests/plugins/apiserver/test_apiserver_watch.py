"""Watches: chunked JSON lines from a resourceVersion, bookmarks, 410, timeouts, cuts, restarts."""

from __future__ import annotations

from typing import Any

import pytest

from kdns.plugins.kubernetes.apiserver import ApiServer

Http = Any  # the conftest client

SERVICES = "/api/v1/services"


def rv_of(event: dict[str, Any]) -> int:
    return int(event["object"]["metadata"]["resourceVersion"])


async def listed(http: Http, path: str = SERVICES) -> int:
    return int((await http.get(path)).json()["metadata"]["resourceVersion"])


async def test_watch_from_list_version_streams_changes_in_order(
    http: Http, server: ApiServer
) -> None:
    """ADDED, MODIFIED, DELETED arrive as chunked JSON lines with growing versions."""
    rv = await listed(http)
    stream = await http.watch(f"{SERVICES}?watch=1&resourceVersion={rv}")
    assert stream.status == 200
    assert stream.headers["transfer-encoding"] == "chunked"
    assert stream.headers["content-type"] == "application/json"
    await server.wait_for_watches(1, "services")
    server.apply(
        {
            "kind": "Service",
            "metadata": {"name": "new", "namespace": "default"},
            "spec": {"ports": [{"port": 80}]},
        }
    )
    server.patch("services", "default", "new", {"metadata": {"labels": {"tier": "x"}}})
    server.delete("services", "default", "new")
    events = [await stream.next() for _ in range(3)]
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert [e["object"]["metadata"]["name"] for e in events] == ["new"] * 3
    versions = [rv_of(e) for e in events]
    assert versions == sorted(versions)
    assert versions[0] > rv
    assert events[1]["object"]["metadata"]["labels"] == {"tier": "x"}
    assert events[0]["object"]["spec"]["clusterIP"].startswith("10.3.")
    stream.close()


async def test_watch_without_version_starts_with_the_current_state(http: Http) -> None:
    """`?watch=true` with no resourceVersion sends every object as ADDED first."""
    stream = await http.watch("/api/v1/namespaces/kube-system/pods?watch=true")
    first = [await stream.next(), await stream.next()]
    assert {e["type"] for e in first} == {"ADDED"}
    assert sorted(e["object"]["status"]["podIP"] for e in first) == ["10.2.6.10", "10.2.7.11"]
    stream.close()


async def test_legacy_watch_path_and_name(http: Http, server: ApiServer) -> None:
    """`/api/v1/watch/namespaces/NS/services/NAME` watches that one object."""
    rv = await listed(http)
    stream = await http.watch(f"/api/v1/watch/namespaces/default/services/web?resourceVersion={rv}")
    await server.wait_for_watches(1)
    server.patch("svc", "default", "api", {"metadata": {"labels": {"a": "1"}}})
    server.patch("svc", "default", "web", {"metadata": {"labels": {"a": "2"}}})
    event = await stream.next()
    assert event["object"]["metadata"]["name"] == "web"
    stream.close()


async def test_bookmarks_only_when_allowed(http: Http, server: ApiServer) -> None:
    """allowWatchBookmarks streams get BOOKMARK events carrying a version; others do not."""
    rv = await listed(http)
    with_bm = await http.watch(f"{SERVICES}?watch=1&resourceVersion={rv}&allowWatchBookmarks=true")
    without = await http.watch(f"{SERVICES}?watch=1&resourceVersion={rv}")
    await server.wait_for_watches(2)
    server.patch("pods", "default", "web-0", {"metadata": {"labels": {"x": "y"}}})
    server.send_bookmarks()
    bookmark = await with_bm.next()
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["kind"] == "Service"
    # The pod change moved the version on; the bookmark says the stream is past it.
    assert rv_of(bookmark) == server.resource_version > rv
    server.patch("svc", "default", "api", {"metadata": {"labels": {"a": "1"}}})
    assert (await with_bm.next())["type"] == "MODIFIED"
    assert (await without.next())["type"] == "MODIFIED"
    with_bm.close()
    without.close()


async def test_bookmarks_are_periodic(client_for: Any) -> None:
    """With a short interval bookmarks come by themselves, without changes."""
    srv = ApiServer(bookmark_interval=0.02)
    async with srv:
        from_http = await client_for(srv.url).watch(
            f"{SERVICES}?watch=1&resourceVersion={srv.resource_version}&allowWatchBookmarks=1"
        )
        kinds = [(await from_http.next())["type"] for _ in range(3)]
        assert kinds == ["BOOKMARK"] * 3
        from_http.close()


async def test_resume_from_before_the_window_is_410(client_for: Any) -> None:
    """A watch from a version older than the kept events gets one ERROR 410 Expired event."""
    srv = ApiServer(event_window=3)
    async with srv:
        http = client_for(srv.url)
        rv = srv.resource_version
        for i in range(5):
            srv.apply({"kind": "Namespace", "metadata": {"name": f"n{i}"}})
        stream = await http.watch(f"/api/v1/namespaces?watch=1&resourceVersion={rv}")
        assert stream.status == 200
        error = await stream.next()
        assert error["type"] == "ERROR"
        assert error["object"]["code"] == 410
        assert error["object"]["reason"] == "Expired"
        with pytest.raises(http.Ended):
            await stream.next()
        recent = await http.watch(f"/api/v1/namespaces?watch=1&resourceVersion={rv + 2}")
        assert [(await recent.next())["object"]["metadata"]["name"] for _ in range(3)] == [
            "n2",
            "n3",
            "n4",
        ]
        recent.close()


async def test_expire_sends_error_to_open_watches(http: Http, server: ApiServer) -> None:
    """The force-410 hook ends open watches with ERROR 410; resuming from the old version
    fails, a fresh list's version works."""
    rv = await listed(http)
    stream = await http.watch(f"{SERVICES}?watch=1&resourceVersion={rv}")
    await server.wait_for_watches(1)
    server.expire()
    error = await stream.next()
    assert (error["type"], error["object"]["code"]) == ("ERROR", 410)
    with pytest.raises(http.Ended):
        await stream.next()
    again = await http.watch(f"{SERVICES}?watch=1&resourceVersion={rv}")
    assert (await again.next())["object"]["code"] == 410
    fresh = await http.watch(f"{SERVICES}?watch=1&resourceVersion={await listed(http)}")
    await server.wait_for_watches(1)
    server.patch("svc", "default", "web", {"metadata": {"labels": {"b": "1"}}})
    assert (await fresh.next())["type"] == "MODIFIED"
    fresh.close()


async def test_expire_over_http(http: Http, server: ApiServer) -> None:
    """POST /debug/expire (for a server in another process) ends open watches with ERROR 410
    and makes the old version too old; GET there is refused."""
    rv = await listed(http)
    stream = await http.watch(f"{SERVICES}?watch=1&resourceVersion={rv}")
    await server.wait_for_watches(1)
    reply = await http.request("POST", "/debug/expire")
    assert reply.status == 200
    assert int(reply.json()["oldestResourceVersion"]) > int(rv)
    assert (await stream.next())["object"]["code"] == 410
    again = await http.watch(f"{SERVICES}?watch=1&resourceVersion={rv}")
    assert (await again.next())["object"]["code"] == 410
    assert (await http.get("/debug/expire")).status == 404


async def test_timeout_seconds_ends_the_stream_cleanly(http: Http) -> None:
    """timeoutSeconds closes the stream with its last chunk; the connection stays usable."""
    conn = await http.connect()
    stream = await http.watch(f"{SERVICES}?watch=1&resourceVersion=1&timeoutSeconds=1")
    with pytest.raises(http.Ended):
        await stream.until(lambda e: False, timeout=3)
    stream.close()
    conn[1].close()


async def test_cut_watches_drops_connections(http: Http, server: ApiServer) -> None:
    """The cut hook drops every watch mid-stream (no last chunk); clean cuts end them."""
    rv = await listed(http)
    a = await http.watch(f"{SERVICES}?watch=1&resourceVersion={rv}")
    b = await http.watch(f"/api/v1/pods?watch=1&resourceVersion={rv}")
    await server.wait_for_watches(2)
    assert server.open_watches == {"services": 1, "pods": 1}
    assert server.cut_watches() == 2
    with pytest.raises(http.Cut):
        await a.next()
    with pytest.raises(http.Cut):
        await b.next()
    c = await http.watch(f"{SERVICES}?watch=1&resourceVersion={rv}")
    await server.wait_for_watches(1)
    server.cut_watches(abort=False)
    with pytest.raises(http.Ended):
        await c.next()
    assert server.watch_calls["services"] == 2


async def test_client_hanging_up_ends_its_watch(http: Http, server: ApiServer) -> None:
    """A watch whose client closed the connection is gone at once, not at the next event."""
    stream = await http.watch(f"{SERVICES}?watch=1&resourceVersion={await listed(http)}")
    await server.wait_for_watches(1)
    stream.close()
    await server.wait_for_watches(0)
    assert server.open_watches == {}


async def test_label_selector_watch_sees_objects_enter_and_leave(
    http: Http, server: ApiServer
) -> None:
    """A relabelled pod leaving a selector is DELETED for that watch; one entering is ADDED."""
    rv = await listed(http, "/api/v1/pods")
    stream = await http.watch(f"/api/v1/pods?watch=1&labelSelector=app%3Dweb&resourceVersion={rv}")
    await server.wait_for_watches(1)
    server.patch("pods", "default", "web-1", {"metadata": {"labels": {"app": "other"}}})
    server.patch("pods", "default", "api-7c9d8b6f5-x2x8z", {"metadata": {"labels": {"app": "web"}}})
    server.patch("pods", "kube-system", "coredns-5d78c9869d-8xkqp", {"metadata": {"labels": {}}})
    left, joined = await stream.next(), await stream.next()
    assert (left["type"], left["object"]["metadata"]["name"]) == ("DELETED", "web-1")
    assert (joined["type"], joined["object"]["metadata"]["name"]) == (
        "ADDED",
        "api-7c9d8b6f5-x2x8z",
    )
    stream.close()


async def test_table_watch_for_kubectl(http: Http, server: ApiServer) -> None:
    """A Table watch carries one-row Tables, as `kubectl get -w` reads them."""
    rv = await listed(http)
    stream = await http.watch(
        f"{SERVICES}?watch=1&resourceVersion={rv}", headers={"Accept": http.TABLE}
    )
    await server.wait_for_watches(1)
    server.patch("svc", "default", "web", {"metadata": {"labels": {"c": "1"}}})
    event = await stream.next()
    assert event["object"]["kind"] == "Table"
    assert event["object"]["rows"][0]["cells"][:3] == ["web", "ClusterIP", "None"]
    stream.close()


async def test_stop_and_start_keeps_port_objects_and_versions(
    http: Http, server: ApiServer
) -> None:
    """A restart ends watches, then serves the same objects on the same URL; versions go on."""
    url, rv = server.url, server.resource_version
    stream = await http.watch(f"{SERVICES}?watch=1&resourceVersion={rv}")
    await server.wait_for_watches(1)
    await server.stop()
    with pytest.raises(http.Cut):
        await stream.next()
    with pytest.raises(ConnectionRefusedError):
        await http.get(SERVICES)
    await server.start()
    assert server.url == url
    assert await listed(http) == rv
    resumed = await http.watch(f"{SERVICES}?watch=1&resourceVersion={rv}")
    await server.wait_for_watches(1)
    server.patch("svc", "default", "web", {"metadata": {"labels": {"d": "1"}}})
    assert rv_of(await resumed.next()) == rv + 1
    resumed.close()
