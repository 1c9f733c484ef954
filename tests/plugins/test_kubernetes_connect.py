"""kubernetes: finding the API server as the Corefile (or kubectl) says, and the client limits."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from kdns.plugins.base import PluginError
from kdns.plugins.kubernetes.config import Kubeconfig, KubernetesConfig, TLSFiles
from kdns.plugins.kubernetes.connect import (
    REQUESTS,
    Connection,
    Limiter,
    Stopped,
    configure,
)
from kdns.plugins.kubernetes.controller import Controller

from .kube_support import FAST, RecordingSink, Stub

ZONES = ("cluster.local.",)

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "URL_A"}
- name: b
  cluster: {server: "https://10.9.9.2:6443", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: secret-token}
contexts:
- name: ctx-a
  context: {cluster: a, user: u}
- name: ctx-b
  context: {cluster: b, user: u}
current-context: ctx-a
"""


def kubeconfig(folder: Path, url_a: str = "https://10.9.9.1:6443", name: str = "config") -> str:
    path = folder / name
    path.write_text(KUBECONFIG.replace("URL_A", url_a))
    return str(path)


def host(config: KubernetesConfig, **kw: Any) -> tuple[str, str]:
    conf, source = configure(config, **kw)
    return str(conf.host), source


def test_kubeconfig_takes_precedence_over_endpoint(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path)
    config = KubernetesConfig(
        zones=ZONES, endpoint="http://10.0.0.9:8080", kubeconfig=Kubeconfig(path)
    )
    assert host(config, environ={}) == ("https://10.9.9.1:6443", f"kubeconfig {path}")


def test_kubeconfig_context_is_honoured_and_carries_the_token(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path)
    conf, source = configure(
        KubernetesConfig(zones=ZONES, kubeconfig=Kubeconfig(path, "ctx-b")), environ={}
    )
    assert conf.host == "https://10.9.9.2:6443"
    assert source == f"kubeconfig {path} (context ctx-b)"
    assert conf.api_key["BearerToken"] == "Bearer secret-token"
    assert conf.verify_ssl is False  # insecure-skip-tls-verify


def test_missing_kubeconfig_is_a_clear_error(tmp_path: Path) -> None:
    config = KubernetesConfig(zones=ZONES, kubeconfig=Kubeconfig(str(tmp_path / "nope")))
    with pytest.raises(PluginError, match=r"plugin/kubernetes: cannot use kubeconfig '.*nope'"):
        configure(config, environ={})


def test_unknown_context_is_a_clear_error(tmp_path: Path) -> None:
    config = KubernetesConfig(zones=ZONES, kubeconfig=Kubeconfig(kubeconfig(tmp_path), "ctx-z"))
    with pytest.raises(PluginError, match="ctx-z"):
        configure(config, environ={})


def test_plain_http_endpoint() -> None:
    config = KubernetesConfig(zones=ZONES, endpoint="http://127.0.0.1:8080/")
    assert host(config, environ={}) == ("http://127.0.0.1:8080", "endpoint http://127.0.0.1:8080")


def test_endpoint_with_client_certificates(tmp_path: Path) -> None:
    for name in ("c.pem", "k.pem", "ca.pem"):
        (tmp_path / name).write_text("x")
    tls = TLSFiles(str(tmp_path / "c.pem"), str(tmp_path / "k.pem"), str(tmp_path / "ca.pem"))
    conf, _ = configure(
        KubernetesConfig(zones=ZONES, endpoint="https://10.0.0.1:6443", tls=tls), environ={}
    )
    assert (conf.cert_file, conf.key_file, conf.ssl_ca_cert) == (tls.cert, tls.key, tls.ca)


def test_missing_tls_file_is_named(tmp_path: Path) -> None:
    tls = TLSFiles(str(tmp_path / "c.pem"), "k.pem", "ca.pem")
    config = KubernetesConfig(zones=ZONES, endpoint="https://10.0.0.1:6443", tls=tls)
    with pytest.raises(PluginError, match=r"client certificate file '.*c\.pem' does not exist"):
        configure(config, environ={})


def test_in_cluster_service_account(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----")
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    conf, source = configure(
        KubernetesConfig(zones=ZONES), environ=env, service_account=str(tmp_path)
    )
    assert conf.host == "https://10.96.0.1:443"
    assert conf.api_key["BearerToken"] == "bearer sa-token"
    assert conf.ssl_ca_cert == str(tmp_path / "ca.crt")
    assert source == "in-cluster service account"


def test_in_cluster_without_token_is_a_clear_error(tmp_path: Path) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    with pytest.raises(PluginError, match=r"service account .* cannot be used"):
        configure(KubernetesConfig(zones=ZONES), environ=env, service_account=str(tmp_path))


def test_like_kubectl_kubeconfig_env_then_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    kubeconfig(home / ".kube", "https://10.9.9.7:6443")
    env_file = kubeconfig(tmp_path, "https://10.9.9.8:6443", "other")
    config = KubernetesConfig(zones=ZONES)
    listed = f"{tmp_path / 'absent'}:{env_file}"
    assert host(config, environ={"KUBECONFIG": listed, "HOME": str(home)})[0] == (
        "https://10.9.9.8:6443"
    )
    assert host(config, environ={"HOME": str(home)}) == (
        "https://10.9.9.7:6443",
        f"kubeconfig {home / '.kube' / 'config'}",
    )


def test_nothing_to_connect_to_says_what_to_add(tmp_path: Path) -> None:
    with pytest.raises(PluginError) as info:
        configure(KubernetesConfig(zones=ZONES), environ={"HOME": str(tmp_path)})
    message = str(info.value)
    assert "KUBERNETES_SERVICE_HOST" in message
    assert "$KUBECONFIG" in message
    assert "add 'endpoint URL' or 'kubeconfig FILE'" in message


async def test_the_seed_corefile_watches_the_kubectl_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kubernetes cluster.local` with no endpoint works on a laptop with a kubeconfig."""
    stub = Stub()
    stub.put("Service", {"metadata": {"name": "web", "namespace": "prod"}, "spec": {}})
    stub.start()
    try:
        monkeypatch.setenv("KUBECONFIG", kubeconfig(tmp_path, stub.url))
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        sink = RecordingSink()
        controller = Controller(KubernetesConfig(zones=ZONES), sink, backoff=FAST, resync=0)
        await controller.start()
        try:
            assert await controller.wait_synced(5)
        finally:
            await controller.stop()
        assert sink.names("Service") == {"web"}
        assert stub.queries[0][1] == {"limit": "500"}
        assert REQUESTS.get(("200", "GET", f"127.0.0.1:{stub.port}")) >= 3
    finally:
        stub.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_spaces_requests() -> None:
    clock = Clock()
    limiter = Limiter(qps=2, burst=3, clock=clock)
    assert [limiter.reserve() for _ in range(5)] == [0.0, 0.0, 0.0, 0.5, 1.0]
    clock.now += 10  # refills, but never above the burst
    assert [limiter.reserve() for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]


def test_zero_limits_are_client_go_defaults() -> None:
    limiter = Limiter(0, 0, 0)
    assert (limiter.qps, limiter.burst) == (5.0, 10)


def test_in_flight_cap_blocks_until_released_or_stopped() -> None:
    limiter = Limiter(max_inflight=1)
    stop = threading.Event()
    assert limiter.slot(stop)
    stop.set()
    with pytest.raises(Stopped):
        limiter.slot(stop)
    limiter.release()
    assert limiter.slot(threading.Event())
    assert not Limiter().slot(stop)  # uncapped: no slot to take


def test_rejected_requests_are_counted_by_code() -> None:
    class Client:
        class configuration:
            host = "https://10.0.0.1:6443"

    connection = Connection(Client(), "test")
    before = REQUESTS.get(("403", "GET", "10.0.0.1:6443"))

    def forbidden() -> Any:
        raise ApiException(status=403, reason="Forbidden")

    with pytest.raises(ApiException):
        connection.open(forbidden, threading.Event())
    assert REQUESTS.get(("403", "GET", "10.0.0.1:6443")) == before + 1

    def refused() -> Any:
        raise ConnectionRefusedError

    with pytest.raises(ConnectionRefusedError):
        connection.open(refused, threading.Event())
    assert REQUESTS.get(("<error>", "GET", "10.0.0.1:6443")) >= 1
