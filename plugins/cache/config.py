"""cache: syntax and defaults, as CoreDNS's cache plugin reads them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from kdns.corefile import BlockContext, CorefileError, Directive
from kdns.corefile.syntax import Args, choice, duration, integer, zones

#: Capacity is counted in shards of 256 entries, as CoreDNS rounds it.
SHARDS = 256
MIN_CAPACITY = 1024
DEFAULT_CAPACITY = 9984


@dataclass(frozen=True, slots=True)
class Bucket:
    """The capacity and TTL bounds of the success or the denial cache."""

    capacity: int = DEFAULT_CAPACITY
    max_ttl: int = 3600
    min_ttl: int = 5


@dataclass(frozen=True, slots=True)
class Prefetch:
    """Refresh popular items: queried `amount` times, gaps under `duration` seconds."""

    amount: int
    duration: float = 60.0
    percentage: int = 10


@dataclass(frozen=True, slots=True)
class ServeStale:
    """Serve expired items for up to `duration` seconds while refreshing them."""

    duration: float = 3600.0
    refresh_mode: Literal["immediate", "verify"] = "immediate"


@dataclass(frozen=True, slots=True)
class CacheConfig:
    """How the cache behaves for the zones it covers."""

    zones: tuple[str, ...]
    success: Bucket = Bucket()
    denial: Bucket = Bucket(max_ttl=1800)
    prefetch: Prefetch | None = None
    serve_stale: ServeStale | None = None
    servfail_ttl: float = 5.0
    disable_success: tuple[str, ...] = ()
    disable_denial: tuple[str, ...] = ()
    keepttl: bool = False


def _capacity(args: Args) -> int:
    value = integer(args.next("capacity"), minimum=1, what="capacity")
    return max(MIN_CAPACITY, value // SHARDS * SHARDS) if value >= SHARDS else MIN_CAPACITY


def _bucket(prop: Directive, base: Bucket) -> Bucket:
    args = Args(prop)
    bucket = replace(base, capacity=_capacity(args))
    if args:
        bucket = replace(bucket, max_ttl=integer(args.next("TTL"), minimum=0, what="TTL"))
    if args:
        bucket = replace(bucket, min_ttl=integer(args.next("MINTTL"), minimum=0, what="MINTTL"))
    args.end()
    prop.no_block()
    return bucket


def _prefetch(prop: Directive) -> Prefetch:
    args = Args(prop)
    amount = integer(args.next("AMOUNT"), minimum=1, what="prefetch amount")
    result = Prefetch(amount)
    word = args.optional()
    if word is not None and not word.text.endswith("%"):
        result = replace(result, duration=duration(word, minimum=0.001, what="prefetch duration"))
        word = args.optional()
    if word is not None:
        if not word.text.endswith("%"):
            raise CorefileError(f"percentage '{word.text}' must end with '%'", word.pos)
        pct = integer(word.with_text(word.text[:-1]), minimum=10, maximum=90, what="percentage")
        result = replace(result, percentage=pct)
    args.end()
    prop.no_block()
    return result


def _serve_stale(prop: Directive) -> ServeStale:
    args = Args(prop)
    result = ServeStale()
    word = args.optional()
    if word is not None:
        result = replace(result, duration=duration(word, minimum=0, what="serve_stale duration"))
    word = args.optional()
    if word is not None:
        result = replace(result, refresh_mode=choice(word, ("immediate", "verify"), "refresh mode"))
    args.end()
    prop.no_block()
    return result


def parse(d: Directive, ctx: BlockContext) -> CacheConfig:
    """Parse `cache [TTL] [ZONES...] { ... }`."""
    args = Args(d)
    first = args.peek()
    max_ttl: int | None = None
    if first is not None and first.text.lstrip("-").isdigit():
        args.next("TTL")
        max_ttl = integer(first, what="cache TTL")
        if max_ttl <= 0:
            raise CorefileError(f"cache TTL can not be zero or negative: {max_ttl}", first.pos)
    config = CacheConfig(zones=zones(args.rest(), ctx))
    if max_ttl is not None:
        config = replace(
            config,
            success=replace(config.success, max_ttl=max_ttl),
            denial=replace(config.denial, max_ttl=max_ttl),
        )
    for prop in d.properties():
        match prop.keyword:
            case "success":
                config = replace(config, success=_bucket(prop, config.success))
            case "denial":
                config = replace(config, denial=_bucket(prop, config.denial))
            case "prefetch":
                config = replace(config, prefetch=_prefetch(prop))
            case "serve_stale":
                config = replace(config, serve_stale=_serve_stale(prop))
            case "servfail":
                pargs = Args(prop)
                ttl = duration(pargs.next("DURATION"), minimum=0, what="servfail duration")
                if ttl > 300:
                    raise CorefileError("servfail duration can be at most 5m", prop.args[0].pos)
                pargs.end()
                config = replace(config, servfail_ttl=ttl)
            case "disable":
                pargs = Args(prop)
                kind = choice(pargs.next("success or denial"), ("success", "denial"), "type")
                names = tuple(dict.fromkeys(z for w in pargs.rest() for z in zones([w], ctx))) or (
                    ".",
                )
                if kind == "success":
                    config = replace(config, disable_success=config.disable_success + names)
                else:
                    config = replace(config, disable_denial=config.disable_denial + names)
            case "keepttl":
                prop.bare()
                config = replace(config, keepttl=True)
            case _:
                raise prop.unknown(
                    (
                        "success",
                        "denial",
                        "prefetch",
                        "serve_stale",
                        "servfail",
                        "disable",
                        "keepttl",
                    )
                )
    return config
