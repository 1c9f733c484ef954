"""loadbalance: syntax and defaults, as CoreDNS's loadbalance plugin reads them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from kdns.corefile import BlockContext, CorefileError, Directive
from kdns.corefile.syntax import Args, IPNetwork, choice, cidr, duration, single

Policy = Literal["round_robin", "weighted"]
POLICIES: tuple[Policy, ...] = ("round_robin", "weighted")


@dataclass(frozen=True, slots=True)
class LoadbalanceConfig:
    """How replies are reordered.

    `round_robin` shuffles A, AAAA and MX records, then moves addresses in `prefer` first.
    `weighted` moves one address, picked by the weights in `weight_file`, to the top; the file
    (stored, not read; relative to the *root* directory) is re-read every `reload` seconds,
    0 meaning never.
    """

    policy: Policy = "round_robin"
    weight_file: str | None = None
    reload: float = 30.0
    prefer: tuple[IPNetwork, ...] = ()


def _prefer(prop: Directive, ctx: BlockContext) -> tuple[IPNetwork, ...]:
    prop.no_block()
    if not prop.args:
        ctx.warn(prop.pos, "'prefer' without networks does nothing: add CIDR arguments")
    nets = []
    for word in prop.args:
        if "/" not in word.text:
            raise CorefileError(
                f"'{word.text}' is not a network: write ADDRESS/PREFIX, such as 10.0.0.0/8",
                word.pos,
            )
        nets.append(cidr(word))
    return tuple(nets)


def _weighted(d: Directive, args: Args) -> LoadbalanceConfig:
    config = LoadbalanceConfig("weighted", weight_file=args.next("WEIGHTFILE").text)
    args.end()
    for prop in d.properties():
        match prop.keyword:
            case "reload":
                seconds = duration(single(prop, "DURATION"), minimum=0, what="reload duration")
                config = replace(config, reload=seconds)
            case "prefer":
                raise CorefileError(
                    "'prefer' works only with the round_robin policy (CoreDNS rejects it "
                    "after 'weighted')",
                    prop.pos,
                )
            case _:
                raise prop.unknown(("reload",))
    return config


def parse(d: Directive, ctx: BlockContext) -> LoadbalanceConfig:
    """Parse `loadbalance [round_robin | weighted WEIGHTFILE] { reload D; prefer CIDR... }`."""
    args = Args(d)
    word = args.optional()
    policy = "round_robin" if word is None else choice(word, POLICIES, "policy")
    if policy == "weighted":
        return _weighted(d, args)
    args.end()
    config = LoadbalanceConfig()
    for prop in d.properties():
        match prop.keyword:
            case "prefer":
                config = replace(config, prefer=config.prefer + _prefer(prop, ctx))
            case "reload":
                raise CorefileError(
                    "'reload' applies only to the weighted policy: write "
                    "'loadbalance weighted WEIGHTFILE { reload DURATION }'",
                    prop.pos,
                )
            case _:
                raise prop.unknown(("prefer",))
    return config
