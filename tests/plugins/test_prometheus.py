"""prometheus: listen address, zones, runtime_metrics and tls, and the errors."""

from __future__ import annotations

import pytest

from kdns.plugins.prometheus import PrometheusConfig
from kdns.plugins.testing import parse_error, parse_one

ZONES = ("example.org.",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("prometheus", PrometheusConfig(ZONES, "localhost", 9153, False, None)),
        ("prometheus {\n}", PrometheusConfig(ZONES, "localhost", 9153, False, None)),
        ("prometheus :9153", PrometheusConfig(ZONES, "", 9153, False, None)),
        ("prometheus 0.0.0.0:9253", PrometheusConfig(ZONES, "0.0.0.0", 9253, False, None)),
        ("prometheus {\nruntime_metrics\n}", PrometheusConfig(ZONES, runtime_metrics=True)),
        (
            "prometheus localhost:9253 {\ntls /etc/coredns/web-config.yml\n}",
            PrometheusConfig(ZONES, "localhost", 9253, False, "/etc/coredns/web-config.yml"),
        ),
        (
            "prometheus {\nruntime_metrics\ntls web.yml\n}",
            PrometheusConfig(ZONES, runtime_metrics=True, tls_config="web.yml"),
        ),
    ],
)
def test_valid(text: str, expected: PrometheusConfig) -> None:
    assert parse_one(text) == expected


def test_zones_are_the_blocks() -> None:
    config = parse_one("prometheus", keys="example.org example.net:1053")
    assert isinstance(config, PrometheusConfig)
    assert config.zones == ("example.org.", "example.net.")
    assert config.address == "localhost:9153"


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("prometheus\nprometheus :9154", 3, 1, "only be used once per server block"),
        ("prometheus 9153", 2, 12, "has no port"),
        ("prometheus :9153 :9154", 2, 18, "unexpected argument ':9154'"),
        ("prometheus {\nruntime_metrics yes\n}", 3, 17, "'runtime_metrics' takes no arguments"),
        ("prometheus {\ntls\n}", 3, 1, "missing CONFIG_FILE after 'tls'"),
        ("prometheus {\ntls cert.pem key.pem\n}", 3, 14, "unexpected argument 'key.pem'"),
        ("prometheus {\ntls a.yml\ntls b.yml\n}", 4, 1, "'tls' is already given at line 3"),
        ("prometheus {\nruntime-metrics\n}", 3, 1, "did you mean 'runtime_metrics'?"),
        ("prometheus {\npath /m\n}", 3, 1, "unknown property 'path'"),
    ],
)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert (error.pos.line, error.pos.column) == (line, column), error.message
    assert message in error.message
