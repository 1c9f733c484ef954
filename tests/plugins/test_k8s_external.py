"""k8s_external: zones, apex, ttl, headless, fallthrough and the errors."""

from __future__ import annotations

import pytest

from kdns.corefile.syntax import Fallthrough
from kdns.plugins.k8s_external import K8sExternalConfig
from kdns.plugins.testing import parse_all, parse_error, parse_one, warnings

VALID = [
    pytest.param("k8s_external", K8sExternalConfig(zones=("example.org.",)), id="defaults"),
    pytest.param(
        "k8s_external Example.COM 10.0.0.0/8",
        K8sExternalConfig(zones=("example.com.", "10.in-addr.arpa.")),
        id="zones",
    ),
    pytest.param(
        "k8s_external {\n  apex NS.\n  ttl 60\n  headless\n  fallthrough\n}",
        K8sExternalConfig(
            zones=("example.org.",), apex="ns", ttl=60, headless=True, fallthrough=Fallthrough()
        ),
        id="all-options",
    ),
    pytest.param(
        "k8s_external {\n  ttl 0\n  fallthrough example.org\n}",
        K8sExternalConfig(
            zones=("example.org.",), ttl=0, fallthrough=Fallthrough(("example.org.",))
        ),
        id="ttl-zero-fallthrough-zones",
    ),
    pytest.param(
        "k8s_external {\n  apex a.b\n}",
        K8sExternalConfig(zones=("example.org.",), apex="a.b"),
        id="apex-two-labels",
    ),
]


@pytest.mark.parametrize(("text", "want"), VALID)
def test_valid(text: str, want: K8sExternalConfig) -> None:
    """Each valid directive gives exactly the expected config, defaults included."""
    assert parse_one(text) == want


def test_may_repeat() -> None:
    """CoreDNS does not limit k8s_external to once per block; each line gets a config."""
    configs = parse_all("k8s_external a.org\nk8s_external b.org")
    assert configs == (
        K8sExternalConfig(zones=("a.org.",)),
        K8sExternalConfig(zones=("b.org.",)),
    )


INVALID = [
    pytest.param("k8s_external {\n  ttl 3601\n}", (3, 7, "ttl 3601 is out of range"), id="ttl"),
    pytest.param("k8s_external {\n  ttl\n}", (3, 3, "missing TTL after 'ttl'"), id="ttl-none"),
    pytest.param("k8s_external {\n  ttl x\n}", (3, 7, "not a whole number"), id="ttl-word"),
    pytest.param("k8s_external {\n  apex\n}", (3, 3, "missing APEX after 'apex'"), id="apex-none"),
    pytest.param("k8s_external {\n  apex a..b\n}", (3, 8, "not a valid DNS label"), id="apex-bad"),
    pytest.param("k8s_external {\n  apex .\n}", (3, 8, "not a valid DNS label"), id="apex-root"),
    pytest.param(
        "k8s_external {\n  headless yes\n}", (3, 12, "unexpected argument 'yes'"), id="headless-arg"
    ),
    pytest.param(
        "k8s_external {\n  headles\n}",
        (3, 3, "unknown property 'headles' - did you mean 'headless'?"),
        id="unknown",
    ),
    pytest.param("k8s_external bad..zone", (2, 14, "not a valid domain name"), id="bad-zone"),
]


@pytest.mark.parametrize(("text", "want"), INVALID)
def test_invalid(text: str, want: tuple[int, int, str]) -> None:
    """Each invalid directive fails at the offending word with a clear message."""
    err = parse_error(text)
    line, column, message = want
    assert (err.pos.line, err.pos.column) == (line, column), err.message
    assert message in err.message


def test_extra_arguments_warn() -> None:
    """CoreDNS reads only the first argument of ttl and apex; kdns warns about the rest."""
    found = [
        (w.pos.line, w.pos.column, w.message)
        for w in warnings("k8s_external {\n  ttl 10 20\n  apex dns x\n}")
        if "cannot serve it yet" not in w.message
    ]
    assert [(line, col) for line, col, _ in found] == [(3, 10), (4, 12)]
    assert "extra arguments to 'ttl' are ignored ('20')" in found[0][2]
