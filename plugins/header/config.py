"""header: syntax, as CoreDNS's header plugin reads it.

```
header {
    [query|response] set|clear FLAG...
}
```

A line without a selector applies to responses (CoreDNS's older syntax). Selector, action and
flags are read in any case. Only the first `header` of a block that has rules counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from kdns.corefile import BlockContext, CorefileError, Directive, Word
from kdns.corefile.errors import did_you_mean
from kdns.corefile.syntax import Args

Flag = Literal["aa", "ra", "rd", "cd", "ad"]
#: CoreDNS knows aa, ra and rd; kdns also takes cd and ad (see the README's Bugs).
FLAGS: tuple[Flag, ...] = ("aa", "ra", "rd", "cd", "ad")
ACTIONS = ("set", "clear")
SELECTORS = ("query", "response")


@dataclass(frozen=True, slots=True)
class HeaderRule:
    """Set (`state` True) or clear one header flag."""

    flag: Flag
    state: bool


@dataclass(frozen=True, slots=True)
class HeaderConfig:
    """Rules applied in order to the query before the chain, and to every reply written."""

    query: tuple[HeaderRule, ...] = ()
    response: tuple[HeaderRule, ...] = ()


def _closed(word: Word, options: tuple[str, ...], what: str) -> str:
    text = word.text.lower()
    if text not in options:
        hint = did_you_mean(text, options) or " - expected one of: " + ", ".join(options)
        raise CorefileError(f"unknown {what} '{word.text}'{hint}", word.pos)
    return text


def _rules(line: Directive) -> tuple[str, tuple[HeaderRule, ...]]:
    """Read one line of the block: its selector and its rules."""
    line.no_block()
    keyword = line.keyword.lower()
    words = list(line.args)
    if keyword in ACTIONS:
        selector, action = "response", keyword
    elif keyword in SELECTORS:
        if not words:
            raise CorefileError(f"missing set or clear after '{line.keyword}'", line.name.pos)
        selector, action = keyword, _closed(words.pop(0), ACTIONS, "action")
    else:
        hint = did_you_mean(keyword, (*SELECTORS, *ACTIONS))
        raise CorefileError(
            f"unknown selector '{line.keyword}'{hint or ' - expected query or response'}",
            line.name.pos,
        )
    if not words:
        last = line.last_word()
        raise CorefileError(f"missing FLAG after '{last.text}'", last.pos)
    state = action == "set"
    rules = []
    for word in words:
        rules.append(HeaderRule(cast(Flag, _closed(word, FLAGS, "flag")), state))
    return selector, tuple(rules)


def parse(d: Directive, ctx: BlockContext) -> HeaderConfig:
    """Parse `header { [query|response] set|clear FLAG... }`."""
    if any(isinstance(c, HeaderConfig) and (c.query or c.response) for c in ctx.earlier):
        # CoreDNS reads the first header with rules and never looks at the later ones.
        ctx.warn(d.name.pos, "only the first 'header' of a server block is read; this is ignored")
        return HeaderConfig()
    Args(d).ignore_rest(ctx)  # CoreDNS never reads them
    query: list[HeaderRule] = []
    response: list[HeaderRule] = []
    for line in d.properties():
        selector, rules = _rules(line)
        (query if selector == "query" else response).extend(rules)
    if not query and not response:
        raise CorefileError(
            "'header' needs a block with at least one rule, such as 'response set ra'",
            d.open_pos or d.name.pos,
        )
    return HeaderConfig(tuple(query), tuple(response))
