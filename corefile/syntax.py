"""Typed helpers plugins use to read their arguments, so every plugin errs in one voice.

Each helper takes a `Word` (text plus position) and returns a typed value or raises
`CorefileError` at that word. `Args` walks a directive's arguments in order.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from kdns.corefile.addresses import fqdn, zone_names
from kdns.corefile.ast import Directive
from kdns.corefile.errors import CorefileError, did_you_mean
from kdns.corefile.spec import BlockContext
from kdns.corefile.syntax_tree import Word

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
S = TypeVar("S", bound=str)


class Args:
    """A cursor over the arguments of a directive or property."""

    def __init__(self, directive: Directive) -> None:
        self.directive = directive
        self._words = directive.args
        self._at = 0

    def __len__(self) -> int:
        return len(self._words) - self._at

    def __bool__(self) -> bool:
        return self._at < len(self._words)

    def peek(self) -> Word | None:
        """Return the next argument without consuming it."""
        return self._words[self._at] if self else None

    def _prev(self) -> Word:
        return self._words[self._at - 1] if self._at else self.directive.name

    def next(self, what: str) -> Word:
        """Consume the next argument; raise `missing WHAT after 'PREV'` if there is none."""
        if not self:
            prev = self._prev()
            raise CorefileError(f"missing {what} after '{prev.text}'", prev.pos)
        word = self._words[self._at]
        self._at += 1
        return word

    def optional(self) -> Word | None:
        """Consume and return the next argument, or None if there is none."""
        return self.next("") if self else None

    def rest(self) -> tuple[Word, ...]:
        """Consume and return every remaining argument."""
        words = self._words[self._at :]
        self._at = len(self._words)
        return words

    def ignore_rest(self, ctx: BlockContext) -> None:
        """Consume the remaining arguments, warning that they are ignored (as CoreDNS does)."""
        rest = self.rest()
        if rest:
            extra = " ".join(w.text for w in rest)
            ctx.warn(
                rest[0].pos,
                f"extra arguments to '{self.directive.keyword}' are ignored ('{extra}'), "
                "as CoreDNS ignores them - delete them",
            )

    def end(self) -> None:
        """Raise if an argument is left over."""
        if self:
            extra = self._words[self._at]
            raise CorefileError(
                f"unexpected argument '{extra.text}' to '{self.directive.keyword}'", extra.pos
            )


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def duration(word: Word, *, minimum: float | None = None, what: str = "duration") -> float:
    """Read a Go duration (`300ms`, `1.5h`, `2h45m`, `0`) as seconds."""
    text = word.text
    sign, body = (-1.0, text[1:]) if text[:1] == "-" else (1.0, text.removeprefix("+"))
    seconds = 0.0
    if body == "0":
        pass
    elif not body or _DURATION_PART.sub("", body):
        hint = " (a unit is required)" if body.replace(".", "", 1).isdigit() else ""
        raise CorefileError(
            f"'{text}' is not a {what}{hint}: write a number with a unit, such as 500ms, 30s, "
            "5m or 1h",
            word.pos,
        )
    else:
        for number, unit in _DURATION_PART.findall(body):
            seconds += float(number) * _UNITS[unit]
    seconds *= sign
    if minimum is not None and seconds < minimum:
        raise CorefileError(f"{what} '{text}' must be at least {_show(minimum)}", word.pos)
    return seconds


def _show(seconds: float) -> str:
    return f"{seconds:g}s"


def integer(
    word: Word, *, minimum: int | None = None, maximum: int | None = None, what: str = "number"
) -> int:
    """Read a decimal integer within optional bounds."""
    try:
        value = int(word.text, 10)
    except ValueError:
        raise CorefileError(f"{what} '{word.text}' is not a whole number", word.pos) from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        if minimum is not None and maximum is not None:
            bounds = f"between {minimum} and {maximum}"
        elif minimum is not None:
            bounds = f"at least {minimum}"
        else:
            bounds = f"at most {maximum}"
        raise CorefileError(f"{what} {value} is out of range: it must be {bounds}", word.pos)
    return value


def port(word: Word, what: str = "port") -> int:
    """Read a port number, 1 to 65535."""
    return integer(word, minimum=1, maximum=65535, what=what)


def ip_address(word: Word, what: str = "IP address") -> IPAddress:
    """Read an IPv4 or IPv6 address."""
    try:
        return ipaddress.ip_address(word.text)
    except ValueError:
        raise CorefileError(f"'{word.text}' is not a valid {what}", word.pos) from None


def cidr(word: Word, what: str = "network") -> IPNetwork:
    """Read `ADDR/PREFIX` (host bits are masked) or a bare address (as /32 or /128)."""
    try:
        return ipaddress.ip_network(word.text, strict=False)
    except ValueError:
        raise CorefileError(
            f"'{word.text}' is not a valid {what}: write an address or ADDRESS/PREFIX",
            word.pos,
        ) from None


def host_port(
    word: Word, *, default_port: int | None = None, what: str = "address"
) -> tuple[str, int]:
    """Read a listen address `[HOST]:PORT` (`:8080`, `0.0.0.0:9153`, `[::1]:53`).

    Returns the host ("" for all addresses) and the port; without a port, `default_port`
    is used if given, else the address is an error, as in Go's net.SplitHostPort.
    """
    text = word.text
    host, sep, tail = text.rpartition(":")
    if text.startswith("[") and "]" in text:
        inner, _, after = text[1:].partition("]")
        if after.startswith(":"):
            host, sep, tail = inner, ":", after[1:]
        elif not after:
            host, sep, tail = inner, "", ""
        else:
            raise CorefileError(f"{what} '{text}' is not HOST:PORT", word.pos)
    elif sep and ":" in host:
        raise CorefileError(
            f"{what} '{text}': put an IPv6 address in brackets, as in [::1]:53", word.pos
        )
    if not sep:
        if default_port is None:
            raise CorefileError(
                f"{what} '{text}' has no port: write HOST:PORT, such as :8080", word.pos
            )
        host, tail = (host or text), str(default_port)
    number = port(Word(tail, word.pos), what=f"port in {what} '{text}'")
    if host and host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", host):
                raise CorefileError(
                    f"host '{host}' in {what} '{text}' is not valid", word.pos
                ) from None
    return host, number


def join_host_port(host: str, port: int) -> str:
    """Return `HOST:PORT`, with an IPv6 host in brackets: the inverse of `host_port`."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listen_address(d: Directive, default: tuple[str, int], what: str) -> tuple[str, int]:
    """Read a directive's one optional argument `[HOST]:PORT`; without it, return `default`."""
    args = Args(d)
    word = args.optional()
    found = default if word is None else host_port(word, what=what)
    args.end()
    return found


def zone(word: Word) -> tuple[str, ...]:
    """Read one zone argument: fully qualified, lower case; a CIDR gives its reverse zones."""
    return tuple(zone_names(word))


def zones(words: Iterable[Word], ctx: BlockContext) -> tuple[str, ...]:
    """Read zone arguments, defaulting to the server block's zones when there are none."""
    found: list[str] = []
    for word in words:
        found.extend(zone_names(word))
    return tuple(dict.fromkeys(found)) if found else ctx.zones


def name(word: Word, what: str = "domain name") -> str:
    """Read a domain name: fully qualified, lower case."""
    names = zone_names(word, what)
    if len(names) != 1 or "/" in word.text:
        raise CorefileError(f"'{word.text}' is not a {what}", word.pos)
    return fqdn(names[0])


def choice(word: Word, options: Sequence[S], what: str = "value") -> S:
    """Read one of a closed set of words (case-sensitive, as CoreDNS reads them)."""
    for option in options:
        if word.text == option:
            return option
    hint = did_you_mean(word.text, options) or " - expected one of: " + ", ".join(options)
    raise CorefileError(f"unknown {what} '{word.text}'{hint}", word.pos)


def regex(word: Word, what: str = "regular expression") -> re.Pattern[str]:
    """Compile a regular expression (RE2 syntax is mostly Python syntax)."""
    if len(word.text) > 10000:
        raise CorefileError(f"{what} is longer than 10000 characters", word.pos)
    try:
        return re.compile(word.text)
    except re.error as exc:
        raise CorefileError(f"invalid {what} '{word.text}': {exc}", word.pos) from None


def in_zone(name: str, zone: str) -> bool:
    """Tell whether the lower-case FQDN `name` is `zone` or below it (`.` holds every name)."""
    return zone == "." or name == zone or name.endswith("." + zone)


def in_zones(name: str, zones: Iterable[str]) -> bool:
    """Tell whether the lower-case FQDN `name` is at or below one of `zones`."""
    return any(in_zone(name, zone) for zone in zones)


def longest_zone(name: str, zones: Iterable[str]) -> str | None:
    """Return the longest of `zones` holding the lower-case FQDN `name`, or None for none."""
    found: str | None = None
    for zone in zones:
        if in_zone(name, zone) and (found is None or len(zone) > len(found)):
            found = zone
    return found


@dataclass(frozen=True, slots=True)
class Fallthrough:
    """Pass queries on to the next plugin, for names in `zones` (`.` means every name)."""

    zones: tuple[str, ...] = (".",)

    def covers(self, qname: str) -> bool:
        """Tell whether a lower-case, fully qualified name falls through."""
        return in_zones(qname, self.zones)


def fallthrough(prop: Directive) -> Fallthrough:
    """Read `fallthrough [ZONES...]` (no zones: every name)."""
    prop.no_block()
    found: list[str] = []
    for word in prop.args:
        found.extend(zone_names(word))
    return Fallthrough(tuple(dict.fromkeys(found)) or (".",))


def flag(prop: Directive) -> bool:
    """Read a property that is its name alone (`force_tcp`); return True."""
    prop.bare()
    return True


def single(prop: Directive, what: str) -> Word:
    """Read a property that takes exactly one argument (named `what` if missing) and no block."""
    args = Args(prop)
    word = args.next(what)
    args.end()
    prop.no_block()
    return word


def several(prop: Directive, what: str) -> tuple[Word, ...]:
    """Read a property that takes one or more arguments (the first named `what`) and no block."""
    args = Args(prop)
    words = (args.next(what), *args.rest())
    prop.no_block()
    return words
