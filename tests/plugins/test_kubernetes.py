"""kubernetes: every option, its defaults, the removed options and the errors."""

from __future__ import annotations

import re

import pytest

from kdns.corefile.syntax import Fallthrough
from kdns.plugins.kubernetes import (
    Kubeconfig,
    KubernetesConfig,
    LabelSelector,
    Requirement,
    TLSFiles,
)
from kdns.plugins.kubernetes.selector import SelectorError, parse_selector
from kdns.plugins.testing import parse_error, parse_one, warnings

CL = "cluster.local."


def own_warnings(text: str, keys: str = "cluster.local") -> list[tuple[int, int, str]]:
    """Return the warnings the plugin itself gave (not the loader's 'cannot serve' note)."""
    return [
        (w.pos.line, w.pos.column, w.message)
        for w in warnings(text, keys)
        if "cannot serve it yet" not in w.message
    ]


VALID = [
    pytest.param("kubernetes", "cluster.local", KubernetesConfig(zones=(CL,)), id="defaults"),
    pytest.param(
        "kubernetes",
        "10.0.0.0/23 cluster.local",
        KubernetesConfig(zones=("0.0.10.in-addr.arpa.", "1.0.10.in-addr.arpa.", CL)),
        id="block-zones-with-cidr",
    ),
    pytest.param(
        "kubernetes cluster.local in-addr.arpa ip6.arpa {\n"
        "    pods insecure\n"
        "    fallthrough in-addr.arpa ip6.arpa\n"
        "    ttl 30\n"
        "}",
        ".",
        KubernetesConfig(
            zones=(CL, "in-addr.arpa.", "ip6.arpa."),
            pods="insecure",
            fallthrough=Fallthrough(("in-addr.arpa.", "ip6.arpa.")),
            ttl=30,
        ),
        id="kubeadm",
    ),
    pytest.param(
        "kubernetes Cluster.Local 10.96.0.0/12",
        ".",
        KubernetesConfig(zones=(CL, *(f"{n}.10.in-addr.arpa." for n in range(96, 112)))),
        id="cidr-argument",
    ),
    pytest.param(
        "kubernetes {\n"
        "  endpoint https://k8s:8443\n"
        "  tls cert.pem key.pem ca.pem\n"
        "  apiserver_qps 20.5\n"
        "  apiserver_burst 40\n"
        "  apiserver_max_inflight 8\n"
        "}",
        "cluster.local",
        KubernetesConfig(
            zones=(CL,),
            endpoint="https://k8s:8443",
            tls=TLSFiles("cert.pem", "key.pem", "ca.pem"),
            apiserver_qps=20.5,
            apiserver_burst=40,
            apiserver_max_inflight=8,
        ),
        id="remote-endpoint",
    ),
    pytest.param(
        "kubernetes {\n  endpoint http://127.0.0.1:8080\n}",
        "cluster.local",
        KubernetesConfig(zones=(CL,), endpoint="http://127.0.0.1:8080"),
        id="plain-http-endpoint",
    ),
    pytest.param(
        "kubernetes {\n  kubeconfig /etc/kube/config\n}",
        "cluster.local",
        KubernetesConfig(zones=(CL,), kubeconfig=Kubeconfig("/etc/kube/config")),
        id="kubeconfig",
    ),
    pytest.param(
        "kubernetes {\n  kubeconfig ~/.kube/config prod\n}",
        "cluster.local",
        KubernetesConfig(zones=(CL,), kubeconfig=Kubeconfig("~/.kube/config", "prod")),
        id="kubeconfig-context",
    ),
    pytest.param(
        "kubernetes {\n  namespaces a b\n  namespaces c a\n  pods verified\n"
        "  endpoint_pod_names\n  noendpoints\n  ignore empty_service\n"
        "  startup_timeout 1m30s\n  ttl 0\n  fallthrough\n}",
        "cluster.local",
        KubernetesConfig(
            zones=(CL,),
            namespaces=("a", "b", "c"),
            pods="verified",
            endpoint_pod_names=True,
            noendpoints=True,
            ignore_empty_service=True,
            startup_timeout=90.0,
            ttl=0,
            fallthrough=Fallthrough(),
        ),
        id="many-options",
    ),
    pytest.param(
        "kubernetes cluster.local clusterset.local {\n  multicluster clusterset.local\n  zonal\n}",
        ".",
        KubernetesConfig(
            zones=(CL, "clusterset.local."), multicluster=("clusterset.local.",), zonal=True
        ),
        id="multicluster-zonal",
    ),
    pytest.param(
        "kubernetes {\n  ttl 3600\n  pods disabled\n}",
        "cluster.local",
        KubernetesConfig(zones=(CL,), ttl=3600),
        id="ttl-max",
    ),
]


@pytest.mark.parametrize(("text", "keys", "want"), VALID)
def test_valid(text: str, keys: str, want: KubernetesConfig) -> None:
    """Each valid stanza gives exactly the expected config, defaults included."""
    assert parse_one(text, keys) == want


def test_primary_zone_skips_reverse_zones() -> None:
    """The primary zone is the first forward zone, whatever its position."""
    config = parse_one("kubernetes in-addr.arpa cluster.local example.org", ".")
    assert isinstance(config, KubernetesConfig)
    assert config.primary_zone == CL


SELECTORS = [
    ("app=web", (Requirement("app", "=", ("web",)),)),
    ("app==web", (Requirement("app", "=", ("web",)),)),
    ("app != web", (Requirement("app", "!=", ("web",)),)),
    ("app=", (Requirement("app", "=", ("",)),)),
    (
        "environment in (staging, qa),application=nginx",
        (
            Requirement("environment", "in", ("qa", "staging")),
            Requirement("application", "=", ("nginx",)),
        ),
    ),
    ("tier notin (a)", (Requirement("tier", "notin", ("a",)),)),
    (
        "!canary, example.com/team",
        (Requirement("canary", "!"), Requirement("example.com/team", "exists")),
    ),
]


@pytest.mark.parametrize(("text", "want"), SELECTORS)
def test_label_selectors(text: str, want: tuple[Requirement, ...]) -> None:
    """Label selectors are read as the API server reads them, values sorted in sets."""
    config = parse_one(f"kubernetes {{\n  labels {text}\n}}", "cluster.local")
    assert isinstance(config, KubernetesConfig)
    assert config.labels == LabelSelector(want)


def test_namespace_labels_and_query_form() -> None:
    """namespace_labels is a selector too; query() gives the API's canonical form."""
    config = parse_one(
        "kubernetes {\n  namespace_labels env in (prod, dev), !legacy\n}", "cluster.local"
    )
    assert isinstance(config, KubernetesConfig)
    assert config.namespace_labels is not None
    assert config.namespace_labels.query() == "env in (dev,prod),!legacy"


@pytest.mark.parametrize(
    ("selector", "labels", "matched"),
    [
        ("app=web", {"app": "web"}, True),
        ("app=web", {"app": "db"}, False),
        ("app!=web", {}, True),
        ("app in (a,b)", {"app": "b"}, True),
        ("app notin (a,b)", {"app": "b"}, False),
        ("app", {"app": ""}, True),
        ("!app", {"app": ""}, False),
        ("a=1,b=2", {"a": "1", "b": "3"}, False),
    ],
)
def test_selector_matching(selector: str, labels: dict[str, str], matched: bool) -> None:
    """A selector matches an object only when every requirement holds."""
    assert parse_selector(selector).matches(labels) is matched


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("app in ()", "at least one value"),
        ("app in (a", "expected ',' or ')'"),
        ("app in a", "expected '('"),
        ("app > 3", "not supported"),
        ("app = a = b", "expected ','"),
        ("-app=x", "not a label name"),
        ("Example.com/app=x", "prefix"),
        ("app=" + "v" * 64, "not a label value"),
        ("a b", "expected an operator"),
        ("app,", "expected a key"),
    ],
)
def test_selector_errors(selector: str, message: str) -> None:
    """Invalid selectors are refused with a reason."""
    with pytest.raises(SelectorError, match=re.escape(message)):
        parse_selector(selector)


INVALID = [
    pytest.param("kubernetes in-addr.arpa", (2, 12, "not a reverse zone"), id="only-reverse"),
    pytest.param("kubernetes bad..zone", (2, 12, "not a valid domain name"), id="bad-zone"),
    pytest.param(
        "kubernetes {\n  podz verified\n}",
        (3, 3, "unknown property 'podz' - did you mean 'pods'?"),
        id="unknown-property",
    ),
    pytest.param(
        "kubernetes {\n  pods secure\n}", (3, 8, "unknown pod mode 'secure'"), id="bad-pod-mode"
    ),
    pytest.param("kubernetes {\n  pods\n}", (3, 3, "missing POD-MODE"), id="pods-no-arg"),
    pytest.param(
        "kubernetes {\n  pods verified insecure\n}",
        (3, 17, "unexpected argument 'insecure'"),
        id="pods-two-args",
    ),
    pytest.param(
        "kubernetes {\n  ttl 3601\n}", (3, 7, "ttl 3601 is out of range"), id="ttl-too-big"
    ),
    pytest.param("kubernetes {\n  ttl -1\n}", (3, 7, "out of range"), id="ttl-negative"),
    pytest.param("kubernetes {\n  ttl five\n}", (3, 7, "not a whole number"), id="ttl-word"),
    pytest.param("kubernetes {\n  ttl\n}", (3, 3, "missing TTL after 'ttl'"), id="ttl-missing"),
    pytest.param(
        "kubernetes {\n  tls cert key\n}", (3, 12, "missing CACERT after 'key'"), id="tls-two"
    ),
    pytest.param(
        "kubernetes {\n  tls a b c d\n}", (3, 13, "unexpected argument 'd'"), id="tls-four"
    ),
    pytest.param(
        "kubernetes {\n  kubeconfig\n}", (3, 3, "missing KUBECONFIG file"), id="kubeconfig-none"
    ),
    pytest.param(
        "kubernetes {\n  kubeconfig a b c\n}",
        (3, 18, "unexpected argument 'c'"),
        id="kubeconfig-three",
    ),
    pytest.param("kubernetes {\n  endpoint\n}", (3, 3, "missing URL"), id="endpoint-none"),
    pytest.param(
        "kubernetes {\n  endpoint ftp://k8s\n}", (3, 12, "http:// or https://"), id="endpoint-ftp"
    ),
    pytest.param(
        "kubernetes {\n  endpoint https://\n}", (3, 12, "has no host"), id="endpoint-no-host"
    ),
    pytest.param(
        "kubernetes {\n  endpoint https://k8s:99999\n}",
        (3, 12, "invalid port"),
        id="endpoint-bad-port",
    ),
    pytest.param("kubernetes {\n  namespaces\n}", (3, 3, "missing NAMESPACE"), id="ns-none"),
    pytest.param("kubernetes {\n  labels\n}", (3, 3, "missing a label selector"), id="labels-0"),
    pytest.param(
        "kubernetes {\n  labels app in ()\n}",
        (3, 10, "'app in ()' is not a valid label selector for 'labels'"),
        id="labels-bad",
    ),
    pytest.param(
        "kubernetes {\n  namespaces a\n  namespace_labels x=y\n}",
        (4, 3, "'namespaces' and 'namespace_labels' cannot both be set"),
        id="namespaces-and-labels",
    ),
    pytest.param(
        "kubernetes {\n  noendpoints\n  zonal\n}",
        (4, 3, "'zonal' needs the endpoint watch"),
        id="zonal-noendpoints",
    ),
    pytest.param(
        "kubernetes {\n  noendpoints yes\n}",
        (3, 15, "unexpected argument 'yes'"),
        id="noendpoints-arg",
    ),
    pytest.param(
        "kubernetes {\n  endpoint_pod_names x\n}",
        (3, 22, "unexpected argument 'x'"),
        id="endpoint-pod-names-arg",
    ),
    pytest.param(
        "kubernetes {\n  ignore empty_services\n}",
        (3, 10, "unknown ignore value 'empty_services' - did you mean 'empty_service'?"),
        id="ignore-bad",
    ),
    pytest.param(
        "kubernetes {\n  multicluster clusterset.local\n}",
        (3, 16, "multicluster zone 'clusterset.local.' is not one of the kubernetes zones"),
        id="multicluster-not-a-zone",
    ),
    pytest.param(
        "kubernetes {\n  startup_timeout 5\n}",
        (3, 19, "a unit is required"),
        id="startup-timeout-unitless",
    ),
    pytest.param(
        "kubernetes {\n  startup_timeout -1s\n}",
        (3, 19, "must be at least 0s"),
        id="startup-timeout-negative",
    ),
    pytest.param(
        "kubernetes {\n  startup_timeout\n}", (3, 3, "missing DURATION"), id="startup-timeout-0"
    ),
    pytest.param(
        "kubernetes {\n  apiserver_qps fast\n}",
        (3, 17, "apiserver_qps 'fast' is not a number"),
        id="qps-word",
    ),
    pytest.param("kubernetes {\n  apiserver_qps -1\n}", (3, 17, "at least 0"), id="qps-negative"),
    pytest.param(
        "kubernetes {\n  apiserver_burst 1.5\n}",
        (3, 19, "not a whole number"),
        id="burst-float",
    ),
    pytest.param(
        "kubernetes {\n  apiserver_max_inflight\n}",
        (3, 3, "missing MAX"),
        id="max-inflight-missing",
    ),
    pytest.param(
        "kubernetes {\n  resyncperiod 30\n}",
        (3, 16, "a unit is required"),
        id="resyncperiod-bad",
    ),
    pytest.param(
        "kubernetes {\n  transfer to *\n}",
        (3, 3, "use the transfer plugin"),
        id="transfer-moved",
    ),
    pytest.param(
        "kubernetes {\n  pods verified {\n  }\n}",
        (3, 17, "'pods' takes no block"),
        id="property-block",
    ),
    pytest.param(
        "kubernetes\nkubernetes", (3, 1, "only be used once per server block"), id="twice"
    ),
]


@pytest.mark.parametrize(("text", "want"), INVALID)
def test_invalid(text: str, want: tuple[int, int, str]) -> None:
    """Each invalid stanza fails at the offending word with a clear message."""
    err = parse_error(text, "cluster.local")
    line, column, message = want
    assert (err.pos.line, err.pos.column) == (line, column), err.message
    assert message in err.message


WARNED = [
    pytest.param(
        "kubernetes {\n  upstream\n}",
        [(3, 3, "'upstream' was removed in CoreDNS 1.7.0; kdns ignores it: CNAME targets")],
        id="upstream",
    ),
    pytest.param(
        "kubernetes {\n  upstream 8.8.8.8 /etc/resolv.conf\n}",
        [(3, 3, "CNAME targets are resolved through the chain")],
        id="upstream-args",
    ),
    pytest.param(
        "kubernetes {\n  resyncperiod 10m\n}",
        [(3, 3, "'resyncperiod' was removed in CoreDNS 1.7.0; kdns ignores it")],
        id="resyncperiod",
    ),
    pytest.param(
        "kubernetes {\n  endpoint https://a:6443 https://b:6443\n}",
        [(3, 27, "only the first, 'https://a:6443', is used")],
        id="several-endpoints",
    ),
    pytest.param(
        "kubernetes {\n  tls a b c\n}",
        [(3, 3, "'tls' only applies to an 'endpoint' connection")],
        id="tls-without-endpoint",
    ),
    pytest.param(
        "kubernetes {\n  endpoint https://a\n  kubeconfig kc\n}",
        [(3, 3, "'endpoint' is ignored when 'kubeconfig' is set")],
        id="endpoint-and-kubeconfig",
    ),
    pytest.param(
        "kubernetes {\n  ignore\n}", [(3, 3, "'ignore' without a value does nothing")], id="ignore"
    ),
    pytest.param(
        "kubernetes {\n  ttl 10 20\n}",
        [(3, 10, "extra arguments to 'ttl' are ignored ('20')")],
        id="ttl-extra",
    ),
    pytest.param(
        "kubernetes {\n  multicluster\n}",
        [(3, 3, "'multicluster' without zones does nothing")],
        id="multicluster-empty",
    ),
    pytest.param("kubernetes {\n  pods verified\n}", [], id="no-warning"),
]


@pytest.mark.parametrize(("text", "want"), WARNED)
def test_warnings(text: str, want: list[tuple[int, int, str]]) -> None:
    """Deprecated and ignored syntax loads, with a warning that says what to do instead."""
    found = own_warnings(text)
    assert len(found) == len(want), found
    for (line, column, message), (wl, wc, wm) in zip(found, want, strict=True):
        assert (line, column) == (wl, wc), message
        assert wm in message


def test_removed_options_are_ignored() -> None:
    """upstream and resyncperiod leave the config at its defaults."""
    config = parse_one(
        "kubernetes {\n  upstream /etc/resolv.conf\n  resyncperiod 5m\n}", "cluster.local"
    )
    assert config == KubernetesConfig(zones=(CL,))
