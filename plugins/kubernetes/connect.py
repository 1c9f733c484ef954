"""Finding the API server and talking to it within the client-side limits.

`connect(config)` builds the official client's ApiClient the way the Corefile asks: `kubeconfig
FILE [CONTEXT]` first, else `endpoint URL` (with `tls CERT KEY CACERT`), else the in-cluster
service account, else like kubectl: `$KUBECONFIG`, then `~/.kube/config`. It reads files, so it
runs in `start()`, never at parse time. `Connection` wraps every request in the
`apiserver_qps`/`apiserver_burst` token bucket and the `apiserver_max_inflight` cap, and records
CoreDNS's client-go request metrics.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import kubernetes.client
import kubernetes.config
import kubernetes.config.incluster_config
from kubernetes.client.exceptions import ApiException

from kdns.plugins.base import PluginError
from kdns.plugins.kubernetes.config import KubernetesConfig
from kdns.plugins.metrics import REGISTRY

#: Where Kubernetes mounts a pod's service account token and CA.
SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
#: client-go's defaults when the Corefile leaves the limits at 0.
DEFAULT_QPS, DEFAULT_BURST = 5.0, 10
#: prometheus' DefBuckets, which CoreDNS uses for the REST client histograms.
DEF_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUEST_DURATION = REGISTRY.histogram(
    "coredns_kubernetes_rest_client_request_duration_seconds",
    "Request latency in seconds. Broken down by verb and host.",
    ("verb", "host"),
    DEF_BUCKETS,
)
RATE_LIMITER_DURATION = REGISTRY.histogram(
    "coredns_kubernetes_rest_client_rate_limiter_duration_seconds",
    "Client side rate limiter latency in seconds. Broken down by verb and host.",
    ("verb", "host"),
    DEF_BUCKETS,
)
REQUESTS = REGISTRY.counter(
    "coredns_kubernetes_rest_client_requests_total",
    "Number of HTTP requests, partitioned by status code, method, and host.",
    ("code", "method", "host"),
)

Report = Callable[[Callable[[], None]], None]


def _inline(fn: Callable[[], None]) -> None:
    fn()


class Stopped(Exception):
    """The watch is stopping; the request was not made."""


class Limiter:
    """Client-side API limits: a token bucket (qps, burst) and a cap on list requests in flight.

    Watches count against the bucket but not against the in-flight cap: they are long-running,
    as the API server's own max-requests-inflight counts them, and would otherwise hold a slot
    forever.
    """

    def __init__(
        self,
        qps: float = 0.0,
        burst: int = 0,
        max_inflight: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.qps = qps or DEFAULT_QPS
        self.burst = max(1, burst or DEFAULT_BURST)
        self.clock = clock
        self._tokens = float(self.burst)
        self._last = clock()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_inflight) if max_inflight > 0 else None

    def reserve(self) -> float:
        """Take one token and return how long the caller must wait before using it."""
        with self._lock:
            now = self.clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.qps)
            self._last = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def wait(self, stop: threading.Event) -> float:
        """Wait for a token (raise `Stopped` if `stop` is set meanwhile); return the wait."""
        delay = self.reserve()
        if delay > 0 and stop.wait(delay):
            raise Stopped
        return delay

    def slot(self, stop: threading.Event) -> bool:
        """Take an in-flight slot (raise `Stopped` if `stop` is set); False when uncapped."""
        if self._slots is None:
            return False
        while not self._slots.acquire(timeout=0.1):
            if stop.is_set():
                raise Stopped
        return True

    def release(self) -> None:
        """Give back a slot taken by `slot`."""
        if self._slots is not None:
            self._slots.release()


@dataclass(slots=True)
class Connection:
    """The API client the watch uses, its limits, and where it came from (for the log)."""

    client: Any  # kubernetes.client.ApiClient
    source: str
    limiter: Limiter = field(default_factory=Limiter)
    #: Runs metric updates; the controller points it at the event loop thread.
    report: Report = _inline

    @property
    def host(self) -> str:
        """The `host` label of the REST metrics: the API server's host:port."""
        return urlsplit(str(self.client.configuration.host)).netloc

    def _record(self, code: str, elapsed: float, waited: float) -> None:
        host = self.host

        def update() -> None:
            RATE_LIMITER_DURATION.observe(("GET", host), waited)
            REQUEST_DURATION.observe(("GET", host), elapsed)
            REQUESTS.inc((code, "GET", host))

        self.report(update)

    def open(self, call: Callable[[], Any], stop: threading.Event, *, limited: bool = True) -> Any:
        """Make one GET within the rate limit; return the raw (unread) urllib3 response.

        Non-2xx answers raise the client's ApiException, connection failures urllib3's errors.
        `limited=False` skips the rate limit (the later pages of one paginated list).
        """
        waited = self.limiter.wait(stop) if limited else 0.0
        start = time.monotonic()
        code = "<error>"
        try:
            response = call()
            code = str(response.status)
            return response
        except ApiException as exc:
            code = str(exc.status) if exc.status else code
            raise
        finally:
            self._record(code, time.monotonic() - start, waited)

    def get_json(
        self,
        call: Callable[[], Any],
        stop: threading.Event,
        hold: Callable[[Any], None],
        *,
        limited: bool = True,
    ) -> dict[str, Any]:
        """Make one list request in an in-flight slot; read and parse its JSON body.

        `hold(response)` is told the open response (and None when done) so a stop can cut it.
        """
        slot = self.limiter.slot(stop)
        try:
            response = self.open(call, stop, limited=limited)
            hold(response)
            try:
                body = json.loads(response.read())
            finally:
                hold(None)
                response.release_conn()
        finally:
            if slot:
                self.limiter.release()
        if not isinstance(body, dict):
            raise ValueError("the API answered a list with something that is not a JSON object")
        return body

    def close(self) -> None:
        """Close the client's connection pool."""
        self.client.close()


def _configuration() -> Any:
    conf = kubernetes.client.Configuration()
    conf.retries = False  # the watch loop backs off and retries by itself
    return conf


def _kubeconfig(conf: Any, path: str, context: str | None, why: str) -> str:
    load: Any = kubernetes.config.load_kube_config  # untyped in some client releases
    try:
        load(config_file=path, context=context, client_configuration=conf, persist_config=False)
    except Exception as exc:  # the loader raises ConfigException, OSError, yaml errors...
        raise PluginError(
            "kubernetes", f"cannot use kubeconfig '{path}' ({why}): {exc or type(exc).__name__}"
        ) from None
    return f"kubeconfig {path}" + (f" (context {context})" if context else "")


def _check_file(path: str, what: str) -> None:
    if not os.path.isfile(path):
        raise PluginError(
            "kubernetes", f"tls: {what} file '{path}' does not exist - fix the 'tls' line"
        )


def _endpoint(conf: Any, config: KubernetesConfig, url: str) -> str:
    conf.host = (url if "://" in url else "https://" + url).rstrip("/")
    if config.tls is not None:
        for path, what in (
            (config.tls.cert, "client certificate"),
            (config.tls.key, "client key"),
            (config.tls.ca, "CA certificate"),
        ):
            _check_file(path, what)
        conf.cert_file, conf.key_file, conf.ssl_ca_cert = (
            config.tls.cert,
            config.tls.key,
            config.tls.ca,
        )
    return f"endpoint {conf.host}"


def _in_cluster(conf: Any, environ: Mapping[str, str], service_account: str) -> str:
    make: Any = kubernetes.config.incluster_config.InClusterConfigLoader
    loader = make(
        token_filename=os.path.join(service_account, "token"),
        cert_filename=os.path.join(service_account, "ca.crt"),
        environ=environ,
    )
    try:
        loader.load_and_set(conf)
    except Exception as exc:
        raise PluginError(
            "kubernetes",
            f"KUBERNETES_SERVICE_HOST is set but the in-cluster service account at "
            f"{service_account} cannot be used: {exc}",
        ) from None
    return "in-cluster service account"


def configure(
    config: KubernetesConfig,
    *,
    environ: Mapping[str, str] | None = None,
    service_account: str = SERVICE_ACCOUNT,
) -> tuple[Any, str]:
    """Return the client Configuration the Corefile asks for and a phrase naming its source."""
    env = os.environ if environ is None else environ
    conf = _configuration()
    if config.kubeconfig is not None:
        path = os.path.expanduser(config.kubeconfig.path)
        return conf, _kubeconfig(conf, path, config.kubeconfig.context, "the 'kubeconfig' line")
    if config.endpoint is not None:
        return conf, _endpoint(conf, config, config.endpoint)
    if env.get("KUBERNETES_SERVICE_HOST") and env.get("KUBERNETES_SERVICE_PORT"):
        return conf, _in_cluster(conf, env, service_account)
    if env.get("KUBECONFIG"):
        return conf, _kubeconfig(conf, env["KUBECONFIG"], None, "from $KUBECONFIG")
    home = env.get("HOME") or os.path.expanduser("~")
    default = os.path.join(home, ".kube", "config")
    if os.path.isfile(default):
        return conf, _kubeconfig(conf, default, None, "the kubectl default")
    raise PluginError(
        "kubernetes",
        "no Kubernetes API to watch: not in a cluster (KUBERNETES_SERVICE_HOST is unset), "
        f"$KUBECONFIG is unset and {default} does not exist - add 'endpoint URL' or "
        "'kubeconfig FILE' to the kubernetes block",
    )


def connect(
    config: KubernetesConfig,
    *,
    environ: Mapping[str, str] | None = None,
    service_account: str = SERVICE_ACCOUNT,
) -> Connection:
    """Build the Connection for `config` (reads kubeconfig and service account files)."""
    conf, source = configure(config, environ=environ, service_account=service_account)
    client = kubernetes.client.ApiClient(conf)
    limiter = Limiter(config.apiserver_qps, config.apiserver_burst, config.apiserver_max_inflight)
    return Connection(client, source, limiter)
