"""DNS mnemonics spelled as CoreDNS prints them (miekg/dns TypeToString and friends)."""

from __future__ import annotations

import dnslib

from kdns.corefile.mnemonics import QCLASSES, QTYPES, RCODES

OPT = dnslib.QTYPE.OPT


def _invert(table: dict[str, int]) -> dict[int, str]:
    names: dict[int, str] = {}
    for name, code in table.items():
        names.setdefault(code, name)  # the first spelling is miekg's; aliases come later
    return names


TYPE_NAMES = _invert(QTYPES)
CLASS_NAMES = _invert(QCLASSES)
RCODE_NAMES = _invert(RCODES)


def type_name(code: int) -> str:
    """Return a record type's mnemonic, `TYPE65534` when it has none."""
    name = TYPE_NAMES.get(code)
    return name if name is not None else f"TYPE{code}"


def class_name(code: int) -> str:
    """Return a class mnemonic (`IN`, `CH`), `CLASS254`-style when it has none."""
    name = CLASS_NAMES.get(code)
    return name if name is not None else f"CLASS{code}"


def rcode_name(code: int) -> str:
    """Return a response code mnemonic, or the number when it has none."""
    name = RCODE_NAMES.get(code)
    return name if name is not None else str(code)


def full_rcode(msg: dnslib.DNSRecord) -> int:
    """Return a message's rcode including the upper bits an OPT record carries."""
    rcode = int(msg.header.rcode)
    for rr in msg.ar:
        if rr.rtype == OPT:
            return int((rr.ttl >> 24) & 0xFF) << 4 | rcode
    return rcode
