"""Table tests for the trace directive's syntax."""

from __future__ import annotations

import pytest

from kdns.plugins.testing import parse_error, parse_one, warnings
from kdns.plugins.trace import TraceConfig

ZIPKIN = "http://localhost:9411/api/v2/spans"

VALID = [
    ("trace", TraceConfig()),
    (
        "trace",
        TraceConfig(
            endpoint_type="zipkin",
            endpoint=ZIPKIN,
            every=1,
            service="coredns",
            client_server=False,
            datadog_analytics_rate=0.0,
            zipkin_max_backlog_size=1000,
            zipkin_max_batch_size=100,
            zipkin_max_batch_interval=1.0,
        ),
    ),
    ("trace tracinghost:9253", TraceConfig(endpoint="http://tracinghost:9253/api/v2/spans")),
    ("trace zipkin tracinghost:9253", TraceConfig(endpoint="http://tracinghost:9253/api/v2/spans")),
    (
        "trace http://tracinghost:9411/zipkin/api/v2/spans",
        TraceConfig(endpoint="http://tracinghost:9411/zipkin/api/v2/spans"),
    ),
    ("trace datadog localhost:8125", TraceConfig("datadog", "localhost:8125")),
    ("trace DataDog agent:8126", TraceConfig("datadog", "agent:8126")),
    # A lone endpoint type is the type, at its default address.
    ("trace datadog", TraceConfig("datadog", "localhost:8126")),
    ("trace zipkin", TraceConfig("zipkin", ZIPKIN)),
    (
        "trace tracinghost:9411 {\nevery 10000\nservice dnsproxy\nclient_server\n}",
        TraceConfig(
            endpoint="http://tracinghost:9411/api/v2/spans",
            every=10000,
            service="dnsproxy",
            client_server=True,
        ),
    ),
    ("trace {\nclient_server false\n}", TraceConfig(client_server=False)),
    ("trace {\nclient_server T\n}", TraceConfig(client_server=True)),
    ("trace {\nevery 0\n}", TraceConfig(every=0)),
    (
        "trace datadog {\ndatadog_analytics_rate 0.5\n}",
        TraceConfig("datadog", "localhost:8126", datadog_analytics_rate=0.5),
    ),
    ("trace {\ndatadog_analytics_rate\n}", TraceConfig(datadog_analytics_rate=0.0)),
    (
        "trace {\nzipkin_max_backlog_size 500\nzipkin_max_batch_size 50\n"
        "zipkin_max_batch_interval 500ms\n}",
        TraceConfig(
            zipkin_max_backlog_size=500, zipkin_max_batch_size=50, zipkin_max_batch_interval=0.5
        ),
    ),
    ("trace {\nzipkin_max_batch_size\n}", TraceConfig()),
]

INVALID = [
    ("trace a b c", 2, 11, "unexpected argument 'c' to 'trace'"),
    ("trace jaeger localhost:1234", 2, 7, "unknown tracing endpoint type 'jaeger'"),
    ("trace {\nevery\n}", 3, 1, "missing AMOUNT after 'every'"),
    ("trace {\nevery 1 2\n}", 3, 9, "unexpected argument '2' to 'every'"),
    ("trace {\nevery -1\n}", 3, 7, "every amount -1 is out of range"),
    ("trace {\nevery lots\n}", 3, 7, "is not a whole number"),
    ("trace {\nservice\n}", 3, 1, "missing NAME after 'service'"),
    ("trace {\nclient_server yes\n}", 3, 15, "'yes' is not a boolean"),
    ("trace {\nclient_server true false\n}", 3, 20, "unexpected argument 'false'"),
    ("trace {\ndatadog_analytics_rate 1.5\n}", 3, 24, "must be between 0 and 1"),
    ("trace {\ndatadog_analytics_rate nan\n}", 3, 24, "is not a number"),
    ("trace {\ndatadog_analytics_rate half\n}", 3, 24, "is not a number"),
    ("trace {\nzipkin_max_backlog_size big\n}", 3, 25, "is not a whole number"),
    ("trace {\nzipkin_max_batch_interval 10\n}", 3, 27, "a unit is required"),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid(text: str, expected: TraceConfig) -> None:
    assert parse_one(text) == expected


@pytest.mark.parametrize(("text", "line", "column", "message"), INVALID)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert (error.pos.line, error.pos.column) == (line, column)
    assert message in error.message
    assert error.plugin == "trace"


def test_unknown_property_is_ignored_with_a_warning() -> None:
    assert parse_one("trace {\nevry 5\n}") == TraceConfig()
    found = [w for w in warnings("trace {\nevry 5\n}") if "evry" in w.message]
    assert [(w.pos.line, w.message) for w in found] == [
        (3, "unknown property 'evry' is ignored - did you mean 'every'?")
    ]


def test_repeated_trace_warns() -> None:
    found = [w for w in warnings("trace\ntrace datadog") if "more than once" in w.message]
    assert [w.pos.line for w in found] == [3]
