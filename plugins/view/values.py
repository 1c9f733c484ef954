"""What view expressions compute with: value types, the query functions and the operators.

Every function here runs at query time and raises `EvalError` on a value of the wrong kind;
the view treats that as "not admitted", as CoreDNS does.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

#: The static types of values; ANY when not known before the query.
STR, NUM, BOOL, LIST, NIL, ANY = "string", "number", "bool", "array", "nil", "any"


class EvalError(Exception):
    """A value of the wrong kind met at query time (the view then does not match)."""


def bracket(addr: str) -> str:
    """Return an address as CoreDNS shows it: IPv6 in brackets."""
    return f"[{addr}]" if ":" in addr else addr


def incidr(ip: object, net: object) -> bool:
    """Tell whether `ip` (brackets allowed, as client_ip() gives IPv6) is in network `net`."""
    if not isinstance(ip, str) or not isinstance(net, str):
        raise EvalError("incidr takes two strings")
    try:
        network = ipaddress.ip_network(net, strict=False)
    except ValueError:
        raise EvalError(f"invalid CIDR address: {net}") from None
    return in_network(ip, network)


def in_network(ip: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    """Tell whether address `ip` (brackets allowed) is in `network`."""
    try:
        addr = ipaddress.ip_address(ip.strip("[]"))
    except ValueError:
        raise EvalError("first argument is not an IP address") from None
    return addr.version == network.version and addr in network


#: name -> (argument types, result type, implementation taking the request first).
FUNCTIONS: dict[str, tuple[tuple[str, ...], str, Callable[..., Any]]] = {
    "bufsize": ((), NUM, lambda req: req.udp_size),
    "class": ((), STR, lambda req: req.class_name),
    "client_ip": ((), STR, lambda req: bracket(req.remote[0])),
    "do": ((), BOOL, lambda req: req.do),
    "id": ((), NUM, lambda req: req.id),
    "name": ((), STR, lambda req: req.qname),
    "opcode": ((), NUM, lambda req: int(req.msg.header.opcode)),
    "port": ((), STR, lambda req: str(req.remote[1])),
    "proto": ((), STR, lambda req: req.proto),
    "server_ip": ((), STR, lambda req: bracket(req.local[0])),
    "server_port": ((), STR, lambda req: str(req.local[1])),
    "size": ((), NUM, lambda req: req.size),
    "type": ((), STR, lambda req: req.type_name),
    "incidr": ((STR, STR), BOOL, lambda req, ip, net: incidr(ip, net)),
    "metadata": ((STR,), STR, lambda req, label: req.meta.get(str(label), "")),
}


def type_of(value: Any) -> str:
    """Return the expr type name of a value."""
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int | float):
        return NUM
    if isinstance(value, str):
        return STR
    if isinstance(value, list):
        return LIST
    return NIL if value is None else ANY


def need(value: Any, type_: str, what: str) -> Any:
    """Return `value` if it has `type_`; raise EvalError naming `what` otherwise."""
    if type_of(value) != type_:
        raise EvalError(f"{what} needs a {type_}, got {type_of(value)}")
    return value


def same(a: Any, b: Any) -> bool:
    """Tell whether two values are equal and of the same type (`1 == true` is false)."""
    ta, tb = type_of(a), type_of(b)
    return ta == tb and a == b


def compare(op: str) -> Callable[[Any, Any], bool]:
    """Return the ordering `op` (`<`, `<=`, `>`, `>=`) over two numbers or two strings."""

    def cmp(a: Any, b: Any) -> bool:
        ta, tb = type_of(a), type_of(b)
        if ta != tb or ta not in (NUM, STR):
            raise EvalError(f"cannot compare {ta} and {tb} with {op}")
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        return bool(a >= b)

    return cmp


def strings(fn: Callable[[str, str], bool], op: str) -> Callable[[Any, Any], bool]:
    """Return `fn` checked to take two strings (matches, contains, ...)."""

    def run(a: Any, b: Any) -> bool:
        return fn(need(a, STR, op), need(b, STR, op))

    return run


def member(a: Any, b: Any) -> bool:
    """Tell whether `a` is in the list `b`."""
    return any(same(a, x) for x in need(b, LIST, "'in'"))


def arith(op: str) -> Callable[[Any, Any], Any]:
    """Return the arithmetic `op`; `+` also joins two strings."""

    def run(a: Any, b: Any) -> Any:
        if op == "+" and type_of(a) == STR and type_of(b) == STR:
            return a + b
        x, y = need(a, NUM, op), need(b, NUM, op)
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            return x * y
        if y == 0:
            raise EvalError("division by zero")
        return x / y if op == "/" else x % y

    return run


def search(pattern: str, text: str) -> bool:
    """Tell whether the regular expression `pattern` matches anywhere in `text`."""
    try:
        return re.search(pattern, text) is not None
    except re.error as exc:
        raise EvalError(f"invalid regular expression: {exc}") from None
