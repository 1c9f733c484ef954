"""log: syntax and defaults, as CoreDNS's log plugin reads them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kdns.corefile import BlockContext, Directive
from kdns.corefile.addresses import fqdn
from kdns.corefile.syntax import Args, choice

LogClass = Literal["all", "success", "denial", "error"]
CLASSES: tuple[LogClass, ...] = ("all", "success", "denial", "error")

#: CoreDNS's Common Log Format, the default.
COMMON_FORMAT = (
    '{remote}:{port} - {>id} "{type} {class} {name} {proto} {size} {>do} {>bufsize}" '
    "{rcode} {>rflags} {rsize} {duration}"
)
#: The Common Log Format plus the query opcode.
COMBINED_FORMAT = COMMON_FORMAT + ' "{>opcode}"'
DEFAULT_FORMAT = COMMON_FORMAT


@dataclass(frozen=True, slots=True)
class LogConfig:
    """One log directive: a rule per name, all with the same format and response classes.

    Queries are matched against the rules of every log directive in written order; the first
    rule whose name is the query name or a parent of it decides, and logs the query only if the
    response's class is in `classes` (`all` means every class).
    """

    names: tuple[str, ...] = (".",)
    format: str = DEFAULT_FORMAT
    classes: tuple[LogClass, ...] = ("all",)

    def logs(self, klass: LogClass) -> bool:
        """Tell whether a response of class `klass` is logged by these rules."""
        return "all" in self.classes or klass in self.classes


def _format(text: str) -> str:
    if text == "{common}":
        return COMMON_FORMAT
    if text == "{combined}":
        return COMBINED_FORMAT
    return text


def parse(d: Directive, ctx: BlockContext) -> LogConfig:
    """Parse `log [NAMES...] [FORMAT] { class CLASSES... }`."""
    words = d.args
    fmt = DEFAULT_FORMAT
    if len(words) == 1:
        only = words[0]
        if "{" in only.text:
            ctx.warn(
                only.pos,
                f"'{only.text}' is read as a name, not a format: a lone argument is always a "
                f"name; write 'log . {only.text}' to log every query in this format",
            )
        elif only.text == "stdout":
            ctx.warn(
                only.pos,
                "'stdout' is read as the name 'stdout.' (the legacy log file argument is gone), "
                "so this rule logs almost nothing; write 'log' to log every query",
            )
    elif len(words) >= 2 and "{" in words[-1].text:
        fmt = _format(words[-1].text)
        words = words[:-1]
    names = tuple(fqdn(w.text) for w in words) or (".",)
    classes: list[LogClass] = []
    for prop in d.properties():
        if prop.keyword != "class":
            raise prop.unknown(("class",))
        prop.no_block()
        if not prop.args:
            Args(prop).next("class (all, success, denial or error)")
        for word in prop.args:
            klass = choice(word, CLASSES, "class")
            if klass not in classes:
                classes.append(klass)
    return LogConfig(names, fmt, tuple(classes) or ("all",))
