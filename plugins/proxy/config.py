"""proxy: syntax and defaults of CoreDNS's historic proxy plugin, served as forward."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from kdns.corefile import BlockContext, CorefileError, Directive, Word
from kdns.corefile.mnemonics import RCODES
from kdns.corefile.syntax import Args, choice, duration, flag, host_port, integer, several, single
from kdns.plugins.forward import (
    ForwardConfig,
    Target,
    TlsClient,
    Upstream,
    except_zones,
    from_zone,
    parse_targets,
)

DEPRECATION = (
    "proxy was removed in CoreDNS 1.5.0; kdns serves it as forward — replace 'proxy' with 'forward'"
)

Policy = Literal["random", "least_conn", "round_robin", "sequential"]
Protocol = Literal["dns", "https_google", "grpc"]

#: Where https_google sent every query (its TO was ignored), and its default bootstrap.
GOOGLE_DOH = (Upstream("8.8.8.8", 443, "https"), Upstream("8.8.4.4", 443, "https"))
GOOGLE_BOOTSTRAP = (("8.8.8.8", 53), ("8.8.4.4", 53))

PROPERTIES = (
    "policy",
    "fail_timeout",
    "max_fails",
    "health_check",
    "report_health",
    "except",
    "spray",
    "fallthrough",
    "protocol",
)


@dataclass(frozen=True, slots=True)
class HttpHealthCheck:
    """proxy's HTTP health check: GET `path` on `port` of each upstream every `interval`."""

    path: str
    port: int
    interval: float = 4.0


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """One proxy stanza: queries for `from_zone` (minus `ignored`) go to `to`."""

    from_zone: str
    to: tuple[Target, ...]
    policy: Policy = "random"
    fail_timeout: float = 5.0
    max_fails: int = 3
    health_check: HttpHealthCheck | None = None
    report_health: bool = False
    ignored: tuple[str, ...] = ()
    spray: bool = False
    fallthrough_rcodes: tuple[int, ...] = ()
    protocol: Protocol = "dns"
    force_tcp: bool = False
    bootstrap: tuple[tuple[str, int], ...] = GOOGLE_BOOTSTRAP
    grpc_tls: TlsClient | None = None

    def as_forward(self) -> ForwardConfig:
        """Return the forward stanza kdns serves for this proxy stanza.

        https_google becomes DNS-over-HTTPS to Google (its TO was ignored by CoreDNS too);
        least_conn becomes random; HTTP health checks, fail_timeout and spray have no forward
        equivalent (forward checks health in band and always sprays when all are down).
        """
        to = self.to
        tls_servername = None
        if self.protocol == "https_google":
            to, tls_servername = GOOGLE_DOH, "dns.google"
        return ForwardConfig(
            from_zone=self.from_zone,
            to=to,
            ignored=self.ignored,
            force_tcp=self.force_tcp,
            max_fails=self.max_fails,
            policy="random" if self.policy == "least_conn" else self.policy,
            tls_servername=tls_servername,
        )


def _health_check(prop: Directive) -> HttpHealthCheck:
    args = Args(prop)
    word = args.next("PATH:PORT")
    path, sep, port = word.text.rpartition(":")
    if not sep:
        raise CorefileError(
            f"health_check '{word.text}' has no port: write PATH:PORT, such as /health:8080",
            word.pos,
        )
    check = HttpHealthCheck(
        path, integer(word.with_text(port), minimum=1, maximum=65535, what="port")
    )
    interval = args.optional()
    if interval is not None:
        check = replace(check, interval=duration(interval, minimum=0, what="health_check interval"))
    args.end()
    prop.no_block()
    return check


def _fallthrough(prop: Directive) -> tuple[int, ...]:
    words = several(prop, "SERVFAIL or REFUSED")
    found = [RCODES[choice(w, ("SERVFAIL", "REFUSED"), "fallthrough rcode")] for w in words]
    return tuple(dict.fromkeys(found))


def _grpc_tls(words: tuple[Word, ...]) -> TlsClient | None:
    texts = [w.text for w in words]
    if texts == ["insecure"]:
        return None
    if len(texts) > 3:
        raise CorefileError(
            "protocol grpc takes at most 3 files: grpc [insecure|CACERT|CERT KEY|CERT KEY CACERT]",
            words[3].pos,
        )
    return TlsClient.from_files(texts)


def _protocol(config: ProxyConfig, prop: Directive, ctx: BlockContext) -> ProxyConfig:
    args = Args(prop)
    word = args.next("protocol")
    prop.no_block()
    protocols: tuple[Protocol, ...] = ("dns", "https_google", "grpc")
    kind = choice(word, protocols, "protocol")
    config = replace(config, protocol=kind)
    if kind == "dns":
        option = args.optional()
        if option is not None and option.text != "force_tcp":
            raise CorefileError(
                f"only force_tcp is allowed as parameter to dns, not '{option.text}'", option.pos
            )
        args.end()
        return replace(config, force_tcp=option is not None)
    if kind == "https_google":
        option = args.optional()
        if option is not None:
            if option.text != "bootstrap":
                raise CorefileError(
                    f"unexpected '{option.text}' after https_google: "
                    "write https_google [bootstrap ADDRESS...]",
                    option.pos,
                )
            addresses = (args.next("bootstrap address"), *args.rest())
            boot = tuple(host_port(w, default_port=53, what="bootstrap address") for w in addresses)
            config = replace(config, bootstrap=boot)
        ctx.warn(
            word.pos,
            "protocol https_google: kdns forwards to Google's DNS-over-HTTPS (8.8.8.8, "
            "8.8.4.4); the TO addresses are ignored, as they were in CoreDNS",
        )
        return config
    ctx.warn(
        word.pos,
        "protocol grpc cannot be served: kdns forwards plain DNS to the TO addresses; "
        "use forward with dns://, tls:// or https:// upstreams",
    )
    return replace(config, grpc_tls=_grpc_tls(args.rest()))


def _apply(config: ProxyConfig, prop: Directive, ctx: BlockContext) -> ProxyConfig:
    match prop.keyword:
        case "policy":
            word = single(prop, "policy")
            if word.text == "first":
                return replace(config, policy="sequential")
            policies: tuple[Policy, ...] = ("random", "least_conn", "round_robin", "sequential")
            return replace(config, policy=choice(word, policies, "policy"))
        case "fail_timeout":
            word = single(prop, "DURATION")
            return replace(config, fail_timeout=duration(word, minimum=0, what="fail_timeout"))
        case "max_fails":
            word = single(prop, "INTEGER")
            return replace(config, max_fails=integer(word, minimum=0, what="max_fails"))
        case "health_check":
            return replace(config, health_check=_health_check(prop))
        case "report_health":
            return replace(config, report_health=flag(prop))
        case "except":
            return replace(config, ignored=except_zones(prop))
        case "spray":
            return replace(config, spray=flag(prop))
        case "fallthrough":
            return replace(config, fallthrough_rcodes=_fallthrough(prop))
        case "protocol":
            return _protocol(config, prop, ctx)
        case _:
            raise prop.unknown(PROPERTIES)


def parse(d: Directive, ctx: BlockContext) -> ProxyConfig:
    """Parse `proxy FROM TO... { ... }`, warning that proxy is served as forward."""
    ctx.warn(d.name.pos, DEPRECATION)
    args = Args(d)
    config = ProxyConfig(
        from_zone=from_zone(args.next("FROM zone"), ctx),
        to=parse_targets(d, args, ctx, allowed=("dns",), plugin="proxy"),
    )
    for prop in d.properties():
        config = _apply(config, prop, ctx)
    return config
