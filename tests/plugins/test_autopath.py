"""autopath: zones and the resolv.conf file or @plugin that gives the search path."""

from __future__ import annotations

import pytest

from kdns.plugins.autopath import AutopathConfig
from kdns.plugins.testing import parse_error, parse_one, warnings

VALID = [
    pytest.param(
        "autopath @kubernetes",
        "cluster.local",
        AutopathConfig(zones=("cluster.local.",), plugin="kubernetes"),
        id="plugin",
    ),
    pytest.param(
        "autopath /etc/resolv.conf",
        ".",
        AutopathConfig(zones=(".",), resolv_conf="/etc/resolv.conf"),
        id="file",
    ),
    pytest.param(
        "autopath Cluster.Local 10.0.0.0/8 my-resolv.conf",
        ".",
        AutopathConfig(zones=("cluster.local.", "10.in-addr.arpa."), resolv_conf="my-resolv.conf"),
        id="zones-and-file",
    ),
]


@pytest.mark.parametrize(("text", "keys", "want"), VALID)
def test_valid(text: str, keys: str, want: AutopathConfig) -> None:
    """Each valid directive gives exactly the expected config."""
    assert parse_one(text, keys) == want


def test_zones_default_to_block_zones() -> None:
    """Without zones, autopath covers every zone of the server block."""
    config = parse_one("autopath @kubernetes", "a.org b.org")
    assert config == AutopathConfig(zones=("a.org.", "b.org."), plugin="kubernetes")


INVALID = [
    pytest.param("autopath", (2, 1, "missing RESOLV-CONF after 'autopath'"), id="no-args"),
    pytest.param("autopath @", (2, 10, "'@' does not name a plugin"), id="bare-at"),
    pytest.param("autopath @Kube-rnetes", (2, 10, "does not name a plugin"), id="bad-plugin"),
    pytest.param("autopath bad..zone @kubernetes", (2, 10, "not a valid domain name"), id="zone"),
    pytest.param("autopath @kubernetes {\n}", (2, 22, "'autopath' takes no block"), id="block"),
]


@pytest.mark.parametrize(("text", "want"), INVALID)
def test_invalid(text: str, want: tuple[int, int, str]) -> None:
    """Each invalid directive fails at the offending word with a clear message."""
    err = parse_error(text)
    line, column, message = want
    assert (err.pos.line, err.pos.column) == (line, column), err.message
    assert message in err.message


def test_plugin_without_search_path_warns() -> None:
    """Only kubernetes can give a search path; another plugin name loads with a warning."""
    found = [w for w in warnings("autopath @etcd") if "cannot serve it yet" not in w.message]
    assert [(w.pos.line, w.pos.column) for w in found] == [(2, 10)]
    assert "plugin 'etcd' cannot provide a search path" in found[0].message
    assert not [
        w for w in warnings("autopath @kubernetes") if "cannot serve it yet" not in w.message
    ]
