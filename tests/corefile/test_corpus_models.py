"""The typed model of real-world Corefiles, asserted field by field.

Each expected config is written out with the values the Corefile sets and CoreDNS's defaults
for the rest, so a change in parsing or in a default shows up here.
"""

from __future__ import annotations

from pathlib import Path

from kdns.corefile import Corefile, ServerBlock, load
from kdns.corefile.syntax import Fallthrough
from kdns.plugins import default_registry
from kdns.plugins.bind import BindConfig
from kdns.plugins.cache import Bucket, CacheConfig
from kdns.plugins.chaos import ChaosConfig
from kdns.plugins.errors import ErrorsConfig
from kdns.plugins.file import FileConfig
from kdns.plugins.forward import ForwardConfig, ResolvConf, Upstream
from kdns.plugins.health import HealthConfig
from kdns.plugins.hosts import HostsConfig, HostsEntry
from kdns.plugins.kubernetes import KubernetesConfig
from kdns.plugins.loadbalance import LoadbalanceConfig
from kdns.plugins.log import DEFAULT_FORMAT, LogConfig
from kdns.plugins.loop import LoopConfig
from kdns.plugins.prometheus import PrometheusConfig
from kdns.plugins.proxy import ProxyConfig
from kdns.plugins.ready import ReadyConfig
from kdns.plugins.reload import ReloadConfig
from kdns.plugins.view import ViewConfig
from kdns.plugins.whoami import WhoamiConfig

CORPUS = Path(__file__).parent / "corpus"
CLUSTER_ZONES = ("cluster.local.", "in-addr.arpa.", "ip6.arpa.")
REVERSE = Fallthrough(("in-addr.arpa.", "ip6.arpa."))


def model(name: str) -> Corefile:
    return load(str(CORPUS / f"{name}.corefile"), default_registry(), env={})


def plugins(server: ServerBlock) -> list[tuple[str, object]]:
    return [(e.name, e.config) for e in server.plugins]


def zones(server: ServerBlock) -> list[str]:
    return [str(a) for a in server.addresses]


def test_c01_kubeadm_default() -> None:
    """kubeadm's Corefile: every plugin, in execution order, with its options."""
    (server,) = model("c01").servers
    assert zones(server) == ["dns://.:53"]
    assert plugins(server) == [
        ("reload", ReloadConfig(interval=30.0, jitter=15.0)),
        ("ready", ReadyConfig(host="", port=8181, monitor="until-ready")),
        ("health", HealthConfig(host="", port=8080, lameduck=5.0)),
        ("prometheus", PrometheusConfig(zones=(".",), host="", port=9153)),
        ("errors", ErrorsConfig()),
        ("loadbalance", LoadbalanceConfig(policy="round_robin")),
        (
            "cache",
            CacheConfig(
                zones=(".",),
                success=Bucket(capacity=9984, max_ttl=30, min_ttl=5),
                denial=Bucket(capacity=9984, max_ttl=30, min_ttl=5),
                disable_success=("cluster.local.",),
                disable_denial=("cluster.local.",),
            ),
        ),
        (
            "kubernetes",
            KubernetesConfig(
                zones=CLUSTER_ZONES,
                pods="insecure",
                fallthrough=REVERSE,
                ttl=30,
            ),
        ),
        ("loop", LoopConfig(zone=".")),
        (
            "forward",
            ForwardConfig(
                from_zone=".",
                to=(ResolvConf("/etc/resolv.conf"),),
                max_concurrent=1000,
            ),
        ),
    ]


def test_c03_old_kubeadm_with_proxy_and_upstream() -> None:
    """CoreDNS 1.2: proxy is kept (served as forward), upstream is ignored with a warning."""
    (server,) = model("c03").servers
    configs = dict(plugins(server))
    assert configs["kubernetes"] == KubernetesConfig(
        zones=CLUSTER_ZONES, pods="insecure", fallthrough=REVERSE
    )
    proxy = configs["proxy"]
    assert isinstance(proxy, ProxyConfig)
    assert (proxy.from_zone, proxy.to) == (".", (ResolvConf("/etc/resolv.conf"),))
    # proxy's own default of 3 failures carries over to the forward kdns serves it as.
    assert proxy.as_forward() == ForwardConfig(
        from_zone=".", to=(ResolvConf("/etc/resolv.conf"),), max_fails=3
    )
    assert configs["cache"] == CacheConfig(
        zones=(".",), success=Bucket(max_ttl=30), denial=Bucket(max_ttl=30)
    )


def test_c05_2_stub_domain_block() -> None:
    """The stub domain deploy.sh appends: its own zone, forward with max_concurrent."""
    (server,) = model("c05-2").servers
    assert zones(server) == ["dns://example.local.:53"]
    assert plugins(server) == [
        ("errors", ErrorsConfig()),
        (
            "cache",
            CacheConfig(
                zones=("example.local.",), success=Bucket(max_ttl=30), denial=Bucket(max_ttl=30)
            ),
        ),
        ("loop", LoopConfig(zone="example.local.")),
        (
            "forward",
            ForwardConfig(from_zone=".", to=(Upstream("10.1.2.3", 53),), max_concurrent=1000),
        ),
    ]


def test_c08_k3s_hosts_block() -> None:
    """k3s: hosts with a file, ttl, reload and fallthrough for every zone."""
    (server,) = model("c08").servers
    assert dict(plugins(server))["hosts"] == HostsConfig(
        zones=(".",),
        path="/etc/coredns/NodeHosts",
        ttl=60,
        reload=15.0,
        fallthrough=Fallthrough((".",)),
    )
    assert dict(plugins(server))["health"] == HealthConfig(host="", port=8080, lameduck=0.0)


def test_c19_kops_fqdn_zone_argument() -> None:
    """`cluster.local.` written fully qualified means the same zone."""
    (server,) = model("c19").servers
    assert dict(plugins(server))["kubernetes"] == KubernetesConfig(
        zones=CLUSTER_ZONES, pods="insecure", fallthrough=REVERSE, ttl=30
    )


def test_c20_helm_prometheus_on_all_addresses() -> None:
    """The Helm chart's `prometheus 0.0.0.0:9153` and lameduck 10s."""
    (server,) = model("c20").servers
    configs = dict(plugins(server))
    assert configs["prometheus"] == PrometheusConfig(zones=(".",), host="0.0.0.0", port=9153)
    assert configs["health"] == HealthConfig(host="", port=8080, lameduck=10.0)


def test_c22_3_snippet_spliced() -> None:
    """A snippet's directives land in the importing block."""
    (server,) = model("c22-3").servers
    assert plugins(server) == [("log", LogConfig()), ("whoami", WhoamiConfig())]


def test_c22_1_chaos_version() -> None:
    """chaos with a version string."""
    (server,) = model("c22-1").servers
    assert plugins(server) == [("chaos", ChaosConfig(version="CoreDNS-001"))]


def test_c23_1_four_zones_on_two_ports() -> None:
    """Four blocks; file paths are stored, not read."""
    servers = model("c23-1").servers
    assert [zones(s) for s in servers] == [
        ["dns://coredns.io.:5300"],
        ["dns://example.io.:53"],
        ["dns://example.net.:53"],
        ["dns://.:53"],
    ]
    assert plugins(servers[0]) == [
        ("file", FileConfig(path="db.coredns.io", zones=("coredns.io.",)))
    ]
    assert dict(plugins(servers[3]))["kubernetes"] == KubernetesConfig(zones=(".",))


def test_c24_3_forwards_keep_written_order() -> None:
    """Several forward stanzas stay in written order: subdomains before parents."""
    (server,) = model("c24-3").servers
    forwards = [c for n, c in plugins(server) if n == "forward"]
    assert forwards == [
        ForwardConfig(from_zone="lab.example.local.", to=(Upstream("10.20.0.1", 53),)),
        ForwardConfig(from_zone="example.local.", to=(Upstream("10.0.0.1", 53),)),
        ForwardConfig(from_zone=".", to=(ResolvConf("/etc/resolv.conf"),)),
    ]


def test_c27_1_cidr_key_and_kubernetes_default_zones() -> None:
    """10.0.0.0/17 gives 128 reverse zones, and kubernetes takes every block zone."""
    (server,) = model("c27-1").servers
    expected = [f"{i}.0.10.in-addr.arpa." for i in range(128)] + ["cluster.local."]
    assert list(server.zones) == expected
    assert plugins(server) == [
        ("kubernetes", KubernetesConfig(zones=tuple(expected), pods="verified"))
    ]


def test_c28_inline_hosts_two_zones() -> None:
    """hosts with an inline entry; zones default to the block's two zones."""
    (server,) = model("c28").servers
    assert dict(plugins(server))["hosts"] == HostsConfig(
        zones=("example.hosts.", "example.org."),
        entries=(HostsEntry(address="10.0.0.1", names=("example.org.",)),),
        fallthrough=Fallthrough((".",)),
    )


def test_c29_legacy_log_stdout_scopes_to_a_name() -> None:
    """`log stdout` is one NAME argument in CoreDNS; kdns reads it so and warns."""
    m = model("c29")
    assert dict(plugins(m.servers[0]))["log"] == LogConfig(
        names=("stdout.",), format=DEFAULT_FORMAT, classes=("all",)
    )
    assert any(w.plugin == "log" and "stdout" in w.message for w in m.warnings)


def test_c32_bracketed_ipv6_upstream() -> None:
    """`[2603:...::1]:53` is an IPv6 upstream on port 53."""
    (server,) = model("c32").servers
    last = [c for n, c in plugins(server) if n == "forward"][-1]
    assert last == ForwardConfig(
        from_zone=".",
        to=(Upstream("10.10.0.1", 53), Upstream("2603:6010:5300:ad0a::1", 53)),
    )


def test_c39_bind_and_cache_buckets() -> None:
    """Two bound blocks; cache success/denial capacity and TTL; forward force_tcp."""
    first, second = model("c39").servers
    assert first.listen_hosts() == second.listen_hosts() == ("127.0.1.53",)
    configs = dict(plugins(first))
    assert configs["bind"] == BindConfig(hosts=("127.0.1.53",))
    assert configs["cache"] == CacheConfig(
        zones=first.zones,
        success=Bucket(capacity=9984, max_ttl=30, min_ttl=5),
        denial=Bucket(capacity=9984, max_ttl=5, min_ttl=5),
    )
    assert configs["forward"] == ForwardConfig(
        from_zone=".", to=(Upstream("192.168.128.10", 53),), force_tcp=True
    )


def test_c44_view_block_may_share_zone_and_port() -> None:
    """A view-filtered block and a plain block both serve .:53 on 0.0.0.0."""
    filtered, plain = model("c44").servers
    assert dict(plugins(filtered))["view"] == ViewConfig(
        name="test_name_filter", expressions=("name() contains 'github.com'",)
    )
    assert filtered.filtered()
    assert not plain.filtered()
