"""Values and functions of the Go template subset: how values print, and the functions.

Values print as Go's fmt.Sprint prints them; the functions behave as text/template's builtins
(`index`, `len`, `print`, `printf`) and CoreDNS's `parseInt` (strconv.ParseUint) do.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_VERB = re.compile(r"%([-+# 0]*)(\d*)(?:\.(\d+))?([a-zA-Z%])")
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


class TemplateExecError(Exception):
    """A template that failed while it was filled in for one query."""


class Struct(dict[str, object]):
    """A Go struct seen by a template: fields by name, printed as its String() method does."""

    def __init__(self, text: str, **fields: object) -> None:
        super().__init__(fields)
        self.text = text


class _NoValue:
    """What a missing map key gives, printed as Go prints it."""

    def __str__(self) -> str:
        return "<no value>"


NO_VALUE = _NoValue()


def go_str(value: object) -> str:
    """Format a value as Go's fmt.Sprint does for the types templates see."""
    if isinstance(value, Struct):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_str(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def _index(args: list[object]) -> object:
    if not args:
        raise TemplateExecError("wrong number of args for index: want at least 1 got 0")
    value = args[0]
    for key in args[1:]:
        if isinstance(value, list | tuple):
            if not isinstance(key, int) or isinstance(key, bool):
                raise TemplateExecError(f"cannot index slice/array with {go_str(key)}")
            if not 0 <= key < len(value):
                raise TemplateExecError(f"error calling index: index out of range: {key}")
            value = value[key]
        elif isinstance(value, dict):
            value = value.get(key, "")
        else:
            raise TemplateExecError(f"can't index item of type {type(value).__name__}")
    return value


def _len(args: list[object]) -> int:
    if len(args) != 1:
        raise TemplateExecError(f"wrong number of args for len: want 1 got {len(args)}")
    value = args[0]
    if not isinstance(value, str | list | tuple | dict):
        raise TemplateExecError(f"len of type {type(value).__name__}")
    return len(value)


def _print(args: list[object]) -> str:
    out = ""
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out += " "
        out += go_str(arg)
    return out


def _printf(args: list[object]) -> str:
    if not args or not isinstance(args[0], str):
        raise TemplateExecError("printf needs a format string first")
    rest = list(args[1:])

    def verb(m: re.Match[str]) -> str:
        flags, width, precision, kind = m.groups()
        if kind == "%":
            return "%"
        if not rest:
            return f"%!{kind}(MISSING)"
        value = rest.pop(0)
        align = "<" if "-" in flags else ">"
        if kind in "dxXob" and isinstance(value, int) and not isinstance(value, bool):
            sign = "+" if "+" in flags else ""
            alt = "#" if "#" in flags and kind != "d" else ""
            zero = "0" if "0" in flags and "-" not in flags else ""
            return format(value, f"{'' if zero else align}{sign}{alt}{zero}{width}{kind}")
        if kind == "x" and isinstance(value, str):
            text = value.encode().hex()
        elif kind == "q":
            text = '"' + go_str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        else:
            text = go_str(value)
            if precision:
                text = text[: int(precision)]
        return format(text, f"{align}{width}")

    out = _VERB.sub(verb, args[0])
    if rest:
        out += "%!(EXTRA " + ", ".join(go_str(v) for v in rest) + ")"
    return out


def parse_uint(text: str, base: int, bits: int) -> int:
    """Read an unsigned number as Go's strconv.ParseUint does."""
    if bits == 0:
        bits = 64
    if not 0 < bits <= 64 or not (base == 0 or 2 <= base <= 36):
        raise TemplateExecError(f"parseInt: invalid base {base} or bit size {bits}")
    digits = text
    if base == 0:
        base = 10
        lower = text.lower()
        for prefix, value in (("0x", 16), ("0b", 2), ("0o", 8)):
            if lower.startswith(prefix):
                base, digits = value, text[2:]
                break
        else:
            if len(text) > 1 and text[0] == "0":
                base, digits = 8, text[1:]
        digits = digits.replace("_", "")
    allowed = _DIGITS[:base]
    if not digits or any(c not in allowed for c in digits.lower()):
        raise TemplateExecError(f'strconv.ParseUint: parsing "{text}": invalid syntax')
    value = int(digits, base)
    if value >= 1 << bits:
        raise TemplateExecError(f'strconv.ParseUint: parsing "{text}": value out of range')
    return value


def _parse_int(args: list[object]) -> int:
    if len(args) != 3:
        raise TemplateExecError(f"wrong number of args for parseInt: want 3 got {len(args)}")
    text, base, bits = args
    if not isinstance(text, str) or not isinstance(base, int) or not isinstance(bits, int):
        raise TemplateExecError("parseInt takes a string, a base and a bit size")
    return parse_uint(text, base, bits)


FUNCTIONS_BY_NAME: dict[str, Callable[[list[object]], object]] = {
    "index": _index,
    "len": _len,
    "print": _print,
    "printf": _printf,
    "parseInt": _parse_int,
}
