"""trace: syntax and defaults, as CoreDNS's trace plugin reads them."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from kdns.corefile import BlockContext, CorefileError, Directive, Word
from kdns.corefile.errors import did_you_mean
from kdns.corefile.syntax import Args, choice, duration, integer, single

EndpointType = Literal["zipkin", "datadog"]

ENDPOINT_TYPES: tuple[EndpointType, ...] = ("zipkin", "datadog")
DEFAULT_ENDPOINTS: dict[EndpointType, str] = {
    "zipkin": "localhost:9411",
    "datadog": "localhost:8126",
}
PROPERTIES = (
    "every",
    "service",
    "client_server",
    "datadog_analytics_rate",
    "zipkin_max_backlog_size",
    "zipkin_max_batch_size",
    "zipkin_max_batch_interval",
)
#: Go's strconv.ParseBool spellings.
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


@dataclass(frozen=True, slots=True)
class TraceConfig:
    """Where spans go and which queries are traced."""

    endpoint_type: EndpointType = "zipkin"
    endpoint: str = "http://localhost:9411/api/v2/spans"
    every: int = 1
    service: str = "coredns"
    client_server: bool = False
    datadog_analytics_rate: float = 0.0
    zipkin_max_backlog_size: int = 1000
    zipkin_max_batch_size: int = 100
    zipkin_max_batch_interval: float = 1.0


def _endpoint(kind: EndpointType, endpoint: str | None) -> str:
    address = endpoint or DEFAULT_ENDPOINTS[kind]
    if kind == "zipkin" and "http" not in address:
        return f"http://{address}/api/v2/spans"
    return address


def _kind(word: Word) -> EndpointType:
    return choice(word.with_text(word.text.lower()), ENDPOINT_TYPES, "tracing endpoint type")


def _boolean(word: Word) -> bool:
    if word.text in _TRUE:
        return True
    if word.text in _FALSE:
        return False
    raise CorefileError(f"'{word.text}' is not a boolean: write true or false", word.pos)


def _rate(word: Word) -> float:
    try:
        value = float(word.text)
    except ValueError:
        value = math.nan
    if math.isnan(value):
        raise CorefileError(f"datadog analytics rate '{word.text}' is not a number", word.pos)
    if not 0.0 <= value <= 1.0:
        raise CorefileError(
            f"datadog analytics rate must be between 0 and 1, '{word.text}' is not supported",
            word.pos,
        )
    return value


def _optional(prop: Directive) -> Word | None:
    """Read the optional single argument of a property."""
    prop.no_block()
    args = Args(prop)
    word = args.optional()
    args.end()
    return word


def parse(d: Directive, ctx: BlockContext) -> TraceConfig:
    """Parse `trace [ENDPOINT-TYPE] [ENDPOINT] { ... }`."""
    if ctx.earlier:
        ctx.warn(
            d.name.pos,
            "'trace' is written more than once in this server block; only the last one is used",
        )
    args = Args(d)
    first, second = args.optional(), args.optional()
    args.end()
    config = TraceConfig()
    if second is not None and first is not None:
        kind = _kind(first)
        config = replace(config, endpoint_type=kind, endpoint=_endpoint(kind, second.text))
    elif first is not None and first.text.lower() in ENDPOINT_TYPES:
        # `trace datadog { ... }`, as CoreDNS documents it: the type, at its default address.
        kind = _kind(first)
        config = replace(config, endpoint_type=kind, endpoint=_endpoint(kind, None))
    elif first is not None:
        config = replace(config, endpoint=_endpoint("zipkin", first.text))
    for prop in d.properties():
        match prop.keyword:
            case "every":
                amount = integer(single(prop, "AMOUNT"), minimum=0, what="every amount")
                config = replace(config, every=amount)
            case "service":
                config = replace(config, service=single(prop, "NAME").text)
            case "client_server":
                word = _optional(prop)
                config = replace(config, client_server=True if word is None else _boolean(word))
            case "datadog_analytics_rate":
                word = _optional(prop)
                rate = 0.0 if word is None else _rate(word)
                config = replace(config, datadog_analytics_rate=rate)
            case "zipkin_max_backlog_size":
                word = _optional(prop)
                if word is not None:
                    size = integer(word, minimum=0, what="zipkin max backlog size")
                    config = replace(config, zipkin_max_backlog_size=size)
            case "zipkin_max_batch_size":
                word = _optional(prop)
                if word is not None:
                    size = integer(word, minimum=0, what="zipkin max batch size")
                    config = replace(config, zipkin_max_batch_size=size)
            case "zipkin_max_batch_interval":
                word = _optional(prop)
                if word is not None:
                    interval = duration(word, minimum=0, what="zipkin max batch interval")
                    config = replace(config, zipkin_max_batch_interval=interval)
            case _:
                # CoreDNS skips properties it does not know; say so instead of failing.
                hint = did_you_mean(prop.keyword, PROPERTIES)
                ctx.warn(prop.pos, f"unknown property '{prop.keyword}' is ignored{hint}")
    return config
