"""forward: syntax and defaults, as CoreDNS's forward plugin reads them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from kdns.corefile import BlockContext, CorefileError, Directive, Word
from kdns.corefile.mnemonics import rcode
from kdns.corefile.syntax import (
    Args,
    choice,
    duration,
    flag,
    host_port,
    integer,
    ip_address,
    name,
    several,
    single,
    zone,
)
from kdns.plugins.forward.upstream import ResolvConf, Target, Upstream, parse_target

#: CoreDNS's limit on the number of TOs of one forward.
MAX_UPSTREAMS = 15
UINT32_MAX = 2**32 - 1

Policy = Literal["random", "round_robin", "sequential"]
DohMethod = Literal["GET", "POST"]

PROPERTIES = (
    "except",
    "force_tcp",
    "prefer_udp",
    "expire",
    "max_fails",
    "max_connect_attempts",
    "tls",
    "tls_servername",
    "policy",
    "health_check",
    "max_concurrent",
    "max_idle_conns",
    "max_age",
    "next",
    "next_on_nodata",
    "failfast_all_unhealthy_upstreams",
    "failover",
    "resolver",
    "read_timeout",
    "doh_method",
    "source_address",
)


@dataclass(frozen=True, slots=True)
class TlsClient:
    """The client TLS settings for tls:// and https:// upstreams (`tls [CERT KEY] [CA]`)."""

    cert: str | None = None
    key: str | None = None
    ca: str | None = None

    @classmethod
    def from_files(cls, files: Sequence[str]) -> TlsClient:
        """Read up to three file arguments: `CA`, `CERT KEY` or `CERT KEY CA`."""
        if len(files) == 1:
            return cls(ca=files[0])
        if len(files) >= 2:
            return cls(files[0], files[1], files[2] if len(files) == 3 else None)
        return cls()


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """How upstreams are health checked: every `interval` seconds, `DOMAIN IN NS`."""

    interval: float = 0.5
    recursion_desired: bool = True
    domain: str = "."


@dataclass(frozen=True, slots=True)
class ForwardConfig:
    """One forward stanza: queries for `from_zone` (minus `ignored`) go to `to`."""

    from_zone: str
    to: tuple[Target, ...]
    ignored: tuple[str, ...] = ()
    force_tcp: bool = False
    prefer_udp: bool = False
    expire: float = 10.0
    max_fails: int = 2
    max_connect_attempts: int = 0
    tls: TlsClient | None = None
    tls_servername: str | None = None
    policy: Policy = "random"
    health_check: HealthCheck = HealthCheck()
    max_concurrent: int = 0
    max_idle_conns: int = 0
    max_age: float = 0.0
    next_rcodes: tuple[int, ...] = ()
    next_on_nodata: bool = False
    failfast_all_unhealthy_upstreams: bool = False
    failover_rcodes: tuple[int, ...] = ()
    resolvers: tuple[tuple[str, int], ...] = ()
    read_timeout: float = 2.0
    doh_method: DohMethod = "POST"
    source_address: str | None = None

    def upstreams(self) -> tuple[Upstream, ...]:
        """Return the TOs that are addresses or hostnames (not resolv.conf files)."""
        return tuple(t for t in self.to if isinstance(t, Upstream))

    def files(self) -> tuple[ResolvConf, ...]:
        """Return the TOs that are resolv.conf-style files, read when the server starts."""
        return tuple(t for t in self.to if isinstance(t, ResolvConf))


def from_zone(word: Word, ctx: BlockContext) -> str:
    """Read FROM: one zone; a CIDR that expands to several reverse zones keeps the first."""
    found = zone(word)
    if len(found) > 1:
        ctx.warn(
            word.pos,
            f"'{word.text}' expands to {len(found)} reverse zones; only '{found[0]}' is used "
            "(write one directive per zone, or a CIDR on an octet/nibble boundary)",
        )
    return found[0]


def parse_targets(
    d: Directive, args: Args, ctx: BlockContext, *, allowed: tuple[str, ...], plugin: str
) -> tuple[Target, ...]:
    """Read the TO arguments left on the directive line: 1 to 15 of them."""
    words = args.rest()
    if not words:
        last = d.last_word()
        raise CorefileError(
            f"missing upstream after '{last.text}': write {plugin} FROM TO..., "
            f"such as '{plugin} . 8.8.8.8'",
            last.pos,
        )
    if len(words) > MAX_UPSTREAMS:
        raise CorefileError(
            f"more than {MAX_UPSTREAMS} TOs configured: {len(words)}", words[MAX_UPSTREAMS].pos
        )
    return tuple(parse_target(w, ctx, allowed=allowed, plugin=plugin) for w in words)


def except_zones(prop: Directive) -> tuple[str, ...]:
    """Read `except IGNORED_NAMES...`: the zones whose queries are not sent upstream."""
    words = several(prop, "domain to exclude")
    return tuple(dict.fromkeys(z for w in words for z in zone(w)))


def _rcodes(prop: Directive, *, failover: bool) -> tuple[int, ...]:
    words = several(prop, "RCODE")
    found: list[int] = []
    for word in words:
        code = rcode(word, any_case=True)
        if failover and code == 0:
            raise CorefileError("NOERROR cannot be used in failover", word.pos)
        found.append(code)
    return tuple(dict.fromkeys(found))


def _uint32(prop: Directive, what: str) -> int:
    return integer(single(prop, what), minimum=0, maximum=UINT32_MAX, what=prop.keyword)


def _non_negative(prop: Directive) -> int:
    word = single(prop, "number")
    value = integer(word, what=prop.keyword)
    if value < 0:
        raise CorefileError(f"{prop.keyword} can't be negative: {value}", word.pos)
    return value


def _health_check(prop: Directive) -> HealthCheck:
    args = Args(prop)
    interval = duration(args.next("DURATION"), what="health_check duration")
    if interval < 0:
        raise CorefileError(
            f"health_check can't be negative: {prop.args[0].text}", prop.args[0].pos
        )
    check = HealthCheck(interval)
    while args:
        word = args.next("option")
        if word.text == "no_rec":
            check = replace(check, recursion_desired=False)
        elif word.text == "domain":
            check = replace(check, domain=name(args.next("domain name"), "health_check domain"))
        else:
            raise CorefileError(
                f"health_check: unknown option '{word.text}' - expected no_rec or domain NAME",
                word.pos,
            )
    prop.no_block()
    return check


def _tls(prop: Directive) -> TlsClient:
    prop.no_block()
    words = [w.text for w in prop.args]
    if len(words) > 3:
        raise CorefileError("tls takes at most 3 arguments: tls [CERT KEY] [CA]", prop.args[3].pos)
    return TlsClient.from_files(words)


def _resolvers(prop: Directive) -> tuple[tuple[str, int], ...]:
    words = several(prop, "resolver address")
    found: list[tuple[str, int]] = []
    for word in words:
        host, number = host_port(word, default_port=53, what="resolver")
        ip_address(word.with_text(host), "resolver IP address")
        found.append((host, number))
    return tuple(found)


def _duration(prop: Directive, *, positive: bool = False) -> float:
    word = single(prop, "DURATION")
    value = duration(word, what=f"{prop.keyword} duration")
    if value < 0 or (positive and value == 0):
        bound = "must be more than 0" if positive else "can't be negative"
        raise CorefileError(f"{prop.keyword} {bound}: {word.text}", word.pos)
    return value


def _apply(config: ForwardConfig, prop: Directive) -> ForwardConfig:
    match prop.keyword:
        case "except":
            ignored = (*config.ignored, *except_zones(prop))
            return replace(config, ignored=tuple(dict.fromkeys(ignored)))
        case "force_tcp":
            return replace(config, force_tcp=flag(prop))
        case "prefer_udp":
            return replace(config, prefer_udp=flag(prop))
        case "expire":
            return replace(config, expire=_duration(prop))
        case "max_fails":
            return replace(config, max_fails=_uint32(prop, "INTEGER"))
        case "max_connect_attempts":
            return replace(config, max_connect_attempts=_uint32(prop, "INTEGER"))
        case "tls":
            return replace(config, tls=_tls(prop))
        case "tls_servername":
            return replace(config, tls_servername=single(prop, "NAME").text)
        case "policy":
            word = single(prop, "policy")
            policies: tuple[Policy, ...] = ("random", "round_robin", "sequential")
            return replace(config, policy=choice(word, policies, "policy"))
        case "health_check":
            return replace(config, health_check=_health_check(prop))
        case "max_concurrent":
            return replace(config, max_concurrent=_non_negative(prop))
        case "max_idle_conns":
            return replace(config, max_idle_conns=_non_negative(prop))
        case "max_age":
            return replace(config, max_age=_duration(prop))
        case "next":
            return replace(config, next_rcodes=_rcodes(prop, failover=False))
        case "next_on_nodata":
            return replace(config, next_on_nodata=flag(prop))
        case "failfast_all_unhealthy_upstreams":
            return replace(config, failfast_all_unhealthy_upstreams=flag(prop))
        case "failover":
            return replace(config, failover_rcodes=_rcodes(prop, failover=True))
        case "resolver":
            return replace(config, resolvers=config.resolvers + _resolvers(prop))
        case "read_timeout":
            return replace(config, read_timeout=_duration(prop, positive=True))
        case "doh_method":
            word = single(prop, "GET or POST")
            methods: tuple[DohMethod, ...] = ("GET", "POST")
            method = choice(word.with_text(word.text.upper()), methods, "doh_method")
            return replace(config, doh_method=method)
        case "source_address":
            word = single(prop, "IP address")
            return replace(config, source_address=str(ip_address(word, "source address")))
        case _:
            raise prop.unknown(PROPERTIES)


def _check_server_names(config: ForwardConfig, d: Directive) -> None:
    if config.tls_servername is None:
        return
    for target, word in zip(config.to, d.args[1:], strict=True):
        if isinstance(target, Upstream) and target.server_name is not None:
            raise CorefileError(
                f"both forward ('{config.tls_servername}') and upstream ('{target.server_name}') "
                f"TLS server names are set for '{word.text}': keep one of them",
                word.pos,
            )


def parse(d: Directive, ctx: BlockContext) -> ForwardConfig:
    """Parse `forward FROM TO... { ... }`."""
    args = Args(d)
    config = ForwardConfig(
        from_zone=from_zone(args.next("FROM zone"), ctx),
        to=parse_targets(d, args, ctx, allowed=("dns", "tls", "https"), plugin="forward"),
    )
    for prop in d.properties():
        config = _apply(config, prop)
    _check_server_names(config, d)
    return config
