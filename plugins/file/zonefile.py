"""file: reading RFC 1035 master files into dnslib records, with errors that name file:line.

What is read: `$ORIGIN`, `$TTL`, `$INCLUDE FILE [ORIGIN]` (a relative FILE is taken from the
directory of the file that includes it, as CoreDNS's parser does), `@`, relative names,
parentheses spanning lines, `;` comments, quoted strings with `\\X` and `\\DDD` escapes,
omitted owner (the previous one), TTL (`$TTL`, else the last TTL written, else 3600) and class
(IN), TTLs in BIND units (`1h30m`), and the RFC 3597 form `\\# LEN HEX` for any type.
Types with their own presentation format: A, AAAA, NS, CNAME, DNAME, PTR, MX, SOA, TXT,
SPF, SRV, CAA, DS, DNSKEY, RRSIG and NSEC; other types dnslib knows (HTTPS, TLSA, SSHFP, ...)
are handed to dnslib's own reader. `$GENERATE` is not supported.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import ipaddress
import os
import re
import time
from dataclasses import dataclass, field

import dnslib

from kdns.plugins.file.rdata import DNAME

Name = tuple[bytes, ...]
#: The TTL miekg/dns gives a record when neither $TTL nor an earlier record said one.
DEFAULT_TTL = 3600
MAX_INCLUDE_DEPTH = 7
CLASSES = {"IN": 1, "CS": 2, "CH": 3, "HS": 4}
_TTL = re.compile(r"^[0-9]+(?:[smhdw][0-9]*)*$", re.I)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class ZoneFileError(Exception):
    """A zone file that cannot be read; the message starts with `FILE:LINE: `."""


@dataclass(frozen=True, slots=True)
class Token:
    """One word of a zone file: its text (escapes kept), whether it was quoted, its line."""

    text: str
    quoted: bool
    line: int


@dataclass(slots=True)
class Entry:
    """One logical line: its tokens, and whether it starts with an owner name."""

    line: int
    has_owner: bool
    tokens: list[Token] = field(default_factory=list)


def tokenize(text: str, path: str) -> list[Entry]:
    """Split zone file text into logical lines (parentheses join lines; comments dropped)."""
    entries: list[Entry] = []
    current: Entry | None = None
    buf: list[str] = []
    line, depth, i, n = 1, 0, 0, len(text)
    line_start = opened = 0
    token_line, token_col = 1, 0

    def flush(quoted: bool = False) -> None:
        nonlocal current
        if not buf and not quoted:
            return
        if current is None:
            current = Entry(token_line, token_col == 0)
        current.tokens.append(Token("".join(buf), quoted, token_line))
        buf.clear()

    while i < n:
        c = text[i]
        if c == '"':
            flush()
            token_line, token_col = line, i - line_start
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    buf.append(text[i : i + 2])
                    i += 2
                    continue
                if text[i] == "\n":
                    line += 1
                buf.append(text[i])
                i += 1
            if i >= n:
                raise ZoneFileError(f"{path}:{token_line}: unterminated quoted string")
            flush(quoted=True)
            i += 1
            continue
        if c == "\\":
            if not buf:
                token_line, token_col = line, i - line_start
            buf.append(text[i : i + 2])
            i += 2
            continue
        if c == ";":
            flush()
            while i < n and text[i] != "\n":
                i += 1
            continue
        if c in " \t\r":
            flush()
        elif c == "(":
            flush()
            if depth == 0:
                opened = line
            depth += 1
        elif c == ")":
            flush()
            depth -= 1
            if depth < 0:
                raise ZoneFileError(f"{path}:{line}: ')' without '('")
        elif c == "\n":
            flush()
            line += 1
            line_start = i + 1
            if depth == 0 and current is not None:
                entries.append(current)
                current = None
        else:
            if not buf:
                token_line, token_col = line, i - line_start
            buf.append(c)
        i += 1
    flush()
    if depth > 0:
        raise ZoneFileError(f"{path}:{opened}: '(' is never closed")
    if current is not None:
        entries.append(current)
    return entries


def decode(text: str) -> bytes:
    """Return the bytes of a character string: `\\DDD` is a byte, `\\X` is X."""
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            digits = text[i + 1 : i + 4]
            if len(digits) == 3 and digits.isdigit():
                if int(digits) > 255:
                    raise ValueError(f"escape '\\{digits}' is larger than 255")
                out.append(int(digits))
                i += 4
                continue
            out += text[i + 1].encode()
            i += 2
            continue
        out += c.encode()
        i += 1
    return bytes(out)


def parse_name(text: str, origin: Name) -> Name:
    """Return the labels of a name as written: `@`, relative (origin appended) or absolute."""
    if text == "@":
        return origin
    if text == ".":
        return ()
    labels: list[bytes] = []
    current: list[str] = []
    absolute = False
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            step = 4 if text[i + 1 : i + 4].isdigit() and len(text[i + 1 : i + 4]) == 3 else 2
            current.append(text[i : i + step])
            i += step
            continue
        if c == ".":
            if not current:
                raise ValueError(f"empty label in name '{text}'")
            labels.append(decode("".join(current)))
            current = []
            absolute = i == len(text) - 1
        else:
            current.append(c)
        i += 1
    if current:
        labels.append(decode("".join(current)))
    name = tuple(labels) if absolute else tuple(labels) + origin
    if any(len(label) > 63 for label in name):
        raise ValueError(f"a label of '{text}' is longer than 63 octets")
    if sum(len(label) + 1 for label in name) + 1 > 255:
        raise ValueError(f"name '{text}' is longer than 255 octets")
    return name


def parse_ttl(text: str) -> int:
    """Return seconds from `3600` or BIND's `1h30m` form."""
    if not _TTL.match(text):
        raise ValueError(f"'{text}' is not a TTL")
    total, number = 0, ""
    for c in text.lower():
        if c.isdigit():
            number += c
        else:
            total += int(number) * _UNITS[c]
            number = ""
    total += int(number or "0")
    if total >= 2**32:
        raise ValueError(f"TTL '{text}' is too large")
    return total


def type_code(word: str) -> int | None:
    """Return the code of a type mnemonic (`A`, `DNAME`, `TYPE65534`), or None."""
    upper = word.upper()
    code = dnslib.QTYPE.reverse.get(upper)
    if code is not None:
        return int(code)
    if upper.startswith("TYPE") and upper[4:].isdigit() and int(upper[4:]) < 65536:
        return int(upper[4:])
    return None


def class_code(word: str) -> int | None:
    """Return the code of a class mnemonic (`IN`, `CLASS1`), or None."""
    upper = word.upper()
    if upper in CLASSES:
        return CLASSES[upper]
    if upper.startswith("CLASS") and upper[5:].isdigit() and int(upper[5:]) < 65536:
        return int(upper[5:])
    return None


@dataclass(slots=True)
class _State:
    origin: Name
    ttl: int | None = None
    ttl_by_directive: bool = False
    owner: Name | None = None


class Reader:
    """Reads one zone file (and what it includes) for one origin."""

    def __init__(self, origin: Name) -> None:
        self.origin = origin
        self.records: list[dnslib.RR] = []

    def read(self, path: str) -> list[dnslib.RR]:
        """Read `path` and return its records in file order."""
        self._file(path, _State(self.origin), 0)
        return self.records

    def read_text(self, text: str, path: str = "stdin") -> list[dnslib.RR]:
        """Read zone file text (for tests and `$INCLUDE`-free data)."""
        self._text(text, path, _State(self.origin), 0)
        return self.records

    def _file(self, path: str, state: _State, depth: int) -> None:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "surrogateescape")
        self._text(text, path, state, depth)

    def _text(self, text: str, path: str, state: _State, depth: int) -> None:
        for entry in tokenize(text, path):
            try:
                self._entry(entry, path, state, depth)
            except ZoneFileError:
                raise
            except (ValueError, IndexError, binascii.Error, dnslib.DNSError) as exc:
                message = str(exc) or "missing data"
                raise ZoneFileError(f"{path}:{entry.line}: {message}") from None

    def _entry(self, entry: Entry, path: str, state: _State, depth: int) -> None:
        tokens = list(entry.tokens)
        if entry.has_owner:
            first = tokens.pop(0)
            word = first.text.upper()
            if word.startswith("$") and not first.quoted:
                self._directive(word, tokens, entry.line, path, state, depth)
                return
            state.owner = parse_name(first.text, state.origin)
        if state.owner is None:
            raise ValueError("a record without an owner name, and none before it")
        ttl: int | None = None
        rclass: int | None = None
        while tokens:
            word = tokens[0].text
            if ttl is None and _TTL.match(word):
                ttl = parse_ttl(word)
            elif rclass is None and class_code(word) is not None:
                rclass = class_code(word)
            else:
                break
            tokens.pop(0)
        if not tokens:
            raise ValueError("missing record type")
        rtype = type_code(tokens[0].text)
        if rtype is None:
            raise ValueError(f"unknown record type '{tokens[0].text}'")
        rdata = make_rdata(rtype, tokens[1:], state.origin)
        if ttl is None:
            ttl = state.ttl if state.ttl is not None else DEFAULT_TTL
        elif not state.ttl_by_directive:
            state.ttl = ttl
        self.records.append(dnslib.RR(dnslib.DNSLabel(state.owner), rtype, rclass or 1, ttl, rdata))

    def _directive(
        self, word: str, args: list[Token], line: int, path: str, state: _State, depth: int
    ) -> None:
        if word == "$ORIGIN":
            _count(args, 1, word)
            state.origin = parse_name(args[0].text, state.origin)
        elif word == "$TTL":
            _count(args, 1, word)
            state.ttl, state.ttl_by_directive = parse_ttl(args[0].text), True
        elif word == "$INCLUDE":
            if not 1 <= len(args) <= 2:
                raise ValueError("$INCLUDE takes a file name and an optional origin")
            if depth >= MAX_INCLUDE_DEPTH:
                raise ValueError(f"$INCLUDE nested deeper than {MAX_INCLUDE_DEPTH}")
            target = decode(args[0].text).decode("utf-8", "surrogateescape")
            if not os.path.isabs(target):
                target = os.path.join(os.path.dirname(path), target)
            origin = parse_name(args[1].text, state.origin) if len(args) > 1 else state.origin
            inner = _State(origin, state.ttl, state.ttl_by_directive)
            try:
                self._file(target, inner, depth + 1)
            except OSError as exc:
                raise ValueError(f"$INCLUDE {args[0].text}: {exc.strerror or exc}") from None
        elif word == "$GENERATE":
            raise ValueError("$GENERATE is not supported by kdns")
        else:
            raise ValueError(f"unknown directive '{word}'")


def _count(args: list[Token], n: int, what: str) -> None:
    if len(args) != n:
        raise ValueError(f"{what} takes {n} argument{'s' if n > 1 else ''}")


def _int(token: Token, bits: int) -> int:
    if not token.text.isdigit() or int(token.text) >= 2**bits:
        raise ValueError(f"'{token.text}' is not a {bits}-bit number")
    return int(token.text)


def _sigtime(text: str) -> int:
    if len(text) == 14 and text.isdigit():
        return int(calendar.timegm(time.strptime(text, "%Y%m%d%H%M%S")))
    if text.isdigit() and int(text) < 2**32:
        return int(text)
    raise ValueError(f"'{text}' is not a signature time (YYYYMMDDHHmmSS)")


def _label(token: Token, origin: Name) -> dnslib.DNSLabel:
    return dnslib.DNSLabel(parse_name(token.text, origin))


def _need(tokens: list[Token], n: int, what: str, exact: bool = True) -> None:
    if len(tokens) < n or (exact and len(tokens) > n):
        raise ValueError(f"{what} needs {n} field{'s' if n > 1 else ''}, got {len(tokens)}")


def make_rdata(rtype: int, tokens: list[Token], origin: Name) -> dnslib.RD:
    """Return the rdata of one record from its presentation-format fields."""
    if tokens and tokens[0].text == "\\#" and not tokens[0].quoted:
        _need(tokens, 2, "\\# (RFC 3597)", exact=False)
        data = bytes.fromhex("".join(t.text for t in tokens[2:]))
        if len(data) != _int(tokens[1], 16):
            raise ValueError("\\# length does not match its data")
        return dnslib.RD(data)
    name = dnslib.QTYPE.forward.get(rtype, "")
    if name == "A":
        _need(tokens, 1, "A")
        return dnslib.A(str(ipaddress.IPv4Address(tokens[0].text)))
    if name == "AAAA":
        _need(tokens, 1, "AAAA")
        return dnslib.AAAA(tuple(ipaddress.IPv6Address(tokens[0].text).packed))
    if name in ("NS", "CNAME", "PTR"):
        _need(tokens, 1, name)
        return dnslib.RDMAP[name](_label(tokens[0], origin))
    if name == "DNAME":
        _need(tokens, 1, name)
        return DNAME(_label(tokens[0], origin))
    if name == "MX":
        _need(tokens, 2, "MX")
        return dnslib.MX(_label(tokens[1], origin), _int(tokens[0], 16))
    if name == "SOA":
        _need(tokens, 7, "SOA")
        times = [_int(tokens[2], 32)] + [parse_ttl(t.text) for t in tokens[3:]]
        return dnslib.SOA(_label(tokens[0], origin), _label(tokens[1], origin), times)
    if name in ("TXT", "SPF"):
        _need(tokens, 1, name, exact=False)
        return dnslib.TXT([decode(t.text) for t in tokens])
    if name == "SRV":
        _need(tokens, 4, "SRV")
        numbers = [_int(t, 16) for t in tokens[:3]]
        return dnslib.SRV(*numbers, _label(tokens[3], origin))
    if name == "CAA":
        _need(tokens, 3, "CAA")
        value = decode(tokens[2].text).decode("utf-8", "surrogateescape")
        return dnslib.CAA(_int(tokens[0], 8), tokens[1].text, value)
    if name == "DS":
        _need(tokens, 4, "DS", exact=False)
        digest = bytes.fromhex("".join(t.text for t in tokens[3:]))
        return dnslib.DS(_int(tokens[0], 16), _int(tokens[1], 8), _int(tokens[2], 8), digest)
    if name == "DNSKEY":
        _need(tokens, 4, "DNSKEY", exact=False)
        key = base64.b64decode("".join(t.text for t in tokens[3:]), validate=True)
        return dnslib.DNSKEY(_int(tokens[0], 16), _int(tokens[1], 8), _int(tokens[2], 8), key)
    if name == "RRSIG":
        return _rrsig(tokens, origin)
    if name == "NSEC":
        _need(tokens, 1, "NSEC", exact=False)
        types = [t.text.upper() for t in tokens[1:]]
        for word in types:
            if word not in dnslib.QTYPE.reverse:
                raise ValueError(f"unknown type '{word}' in NSEC")
        return dnslib.NSEC(_label(tokens[0], origin), types)
    reader = dnslib.RDMAP.get(name)
    if reader is None:
        raise ValueError(f"type {name or rtype} needs the \\# form (RFC 3597)")
    origin_text = str(dnslib.DNSLabel(origin))
    try:
        return reader.fromZone([t.text for t in tokens], origin_text)
    except Exception as exc:  # dnslib raises many kinds
        raise ValueError(f"bad {name} record: {exc}") from None


def _rrsig(tokens: list[Token], origin: Name) -> dnslib.RD:
    _need(tokens, 9, "RRSIG", exact=False)
    covered = type_code(tokens[0].text)
    if covered is None:
        raise ValueError(f"unknown type covered '{tokens[0].text}'")
    sig = base64.b64decode("".join(t.text for t in tokens[8:]), validate=True)
    return dnslib.RRSIG(
        covered,
        _int(tokens[1], 8),
        _int(tokens[2], 8),
        _int(tokens[3], 32),
        _sigtime(tokens[4].text),
        _sigtime(tokens[5].text),
        _int(tokens[6], 16),
        _label(tokens[7], origin),
        sig,
    )
