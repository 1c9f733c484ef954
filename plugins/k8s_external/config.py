"""k8s_external: syntax and defaults, as CoreDNS's k8s_external plugin reads them."""

from __future__ import annotations

from dataclasses import dataclass, replace

from kdns.corefile import BlockContext, CorefileError, Directive, Word
from kdns.corefile.addresses import is_domain_name
from kdns.corefile.syntax import Args, Fallthrough, fallthrough, flag, integer, zones

PROPERTIES = ("apex", "ttl", "headless", "fallthrough")


@dataclass(frozen=True, slots=True)
class K8sExternalConfig:
    """The zones k8s_external answers and how its records look."""

    zones: tuple[str, ...]
    #: The label under each zone that holds the nameserver records (`ns1.dns.ZONE`).
    apex: str = "dns"
    ttl: int = 5
    #: Also answer headless Services (with their endpoint addresses).
    headless: bool = False
    fallthrough: Fallthrough | None = None


def _apex(word: Word) -> str:
    text = word.text.rstrip(".") if word.text != "." else ""
    if not text or not is_domain_name(text):
        raise CorefileError(
            f"apex '{word.text}' is not a valid DNS label: write a name such as 'dns'", word.pos
        )
    return text.lower()


def parse(d: Directive, ctx: BlockContext) -> K8sExternalConfig:
    """Parse `k8s_external [ZONES...] { ... }`."""
    config = K8sExternalConfig(zones=zones(d.args, ctx))
    for prop in d.properties():
        prop.no_block()
        match prop.keyword:
            case "apex":
                args = Args(prop)
                config = replace(config, apex=_apex(args.next("APEX")))
                args.ignore_rest(ctx)
            case "ttl":
                args = Args(prop)
                ttl = integer(args.next("TTL"), minimum=0, maximum=3600, what="ttl")
                args.ignore_rest(ctx)
                config = replace(config, ttl=ttl)
            case "headless":
                config = replace(config, headless=flag(prop))
            case "fallthrough":
                config = replace(config, fallthrough=fallthrough(prop))
            case _:
                raise prop.unknown(PROPERTIES)
    return config
