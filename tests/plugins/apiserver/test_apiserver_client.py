"""The official `kubernetes` Python client against the server: lists, watch, bookmarks, 410."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch

from kdns.plugins.kubernetes.apiserver import ApiServer, write_kubeconfig


@pytest.fixture
def api(server: ApiServer, tmp_path: Path) -> Any:
    """An ApiClient configured from the kubeconfig the helper writes."""
    path = write_kubeconfig(tmp_path / "config", server.url)
    api_client = config.new_client_from_config(config_file=str(path))
    yield api_client
    api_client.close()


async def test_lists_deserialise_into_models(api: Any) -> None:
    """list_service_for_all_namespaces and the slice list load into the client's models."""
    core = client.CoreV1Api(api)
    services = await asyncio.to_thread(core.list_service_for_all_namespaces)
    assert {s.metadata.name: s.spec.cluster_ip for s in services.items}["kube-dns"] == "10.3.0.10"
    slices = await asyncio.to_thread(
        client.DiscoveryV1Api(api).list_endpoint_slice_for_all_namespaces, limit=4
    )
    assert len(slices.items) == 4
    assert slices.metadata._continue
    assert slices.metadata.remaining_item_count == 2
    pods = await asyncio.to_thread(
        core.list_namespaced_pod, "default", field_selector="status.phase!=Succeeded"
    )
    assert len(pods.items) == 4


async def test_watch_stream_from_a_version_with_bookmarks(api: Any, server: ApiServer) -> None:
    """Watch().stream(resource_version=..., allow_watch_bookmarks=True) sees the change and
    a bookmark, and tracks the bookmark's version."""
    core = client.CoreV1Api(api)
    services = await asyncio.to_thread(core.list_service_for_all_namespaces)
    w = watch.Watch()

    def consume() -> list[tuple[str, str]]:
        seen = []
        for event in w.stream(
            core.list_service_for_all_namespaces,
            resource_version=services.metadata.resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=10,
        ):
            seen.append((event["type"], event["raw_object"]["metadata"].get("name", "")))
            if event["type"] == "BOOKMARK":
                w.stop()
        return seen

    task = asyncio.create_task(asyncio.to_thread(consume))
    await server.wait_for_watches(1, "services")
    server.patch("svc", "default", "web", {"metadata": {"labels": {"seen": "yes"}}})
    await asyncio.sleep(0)
    server.send_bookmarks()
    seen = await asyncio.wait_for(task, 15)
    assert seen[0] == ("MODIFIED", "web")
    assert seen[-1] == ("BOOKMARK", "")
    assert w.resource_version == str(server.resource_version)


async def test_watch_from_an_expired_version_raises_410(api: Any, server: ApiServer) -> None:
    """The client retries once on ERROR 410, then raises ApiException(410) to re-list."""
    core = client.CoreV1Api(api)
    server.expire()

    def consume() -> None:
        for _ in watch.Watch().stream(core.list_service_for_all_namespaces, resource_version="1"):
            pass

    with pytest.raises(client.ApiException) as err:
        await asyncio.wait_for(asyncio.to_thread(consume), 15)
    assert err.value.status == 410
    assert server.watch_calls["services"] == 2
