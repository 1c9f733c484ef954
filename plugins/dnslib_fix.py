"""A fix for dnslib's name compression in messages larger than 16 KiB.

dnslib remembers every name's offset for compression, also offsets past 0x3FFF, which a
14-bit compression pointer cannot reach: a later name then points at the wrong place and
parses as another name, silently (large TCP replies, zone transfers). Importing this module
makes dnslib remember only reachable offsets; everything else about encoding is unchanged.
"""

from __future__ import annotations

import dnslib
from dnslib.label import DNSBuffer, DNSLabel, DNSLabelError

MAX_POINTER = 0x3FFF


def _encode_name(self: DNSBuffer, name: object) -> None:
    """Write `name`, compressed against names already written within pointer reach."""
    label = name if isinstance(name, DNSLabel) else DNSLabel(name)
    if len(label) > 253:
        raise DNSLabelError(f"Domain label too long: {label!r}")
    parts = list(label.label)
    while parts:
        key = tuple(parts)
        pointer = self.names.get(key)
        if pointer is not None:
            self.pack("!H", 0xC000 | pointer)
            return
        if self.offset <= MAX_POINTER:
            self.names[key] = self.offset
        element = parts.pop(0)
        if len(element) > 63:
            raise DNSLabelError(f"Label component too long: {element!r}")
        self.pack("!B", len(element))
        self.append(element)
    self.append(b"\x00")


dnslib.DNSBuffer.encode_name = _encode_name


# dnslib also drops EDNS0 options without data when it parses an OPT record (it reads options
# only while more than four bytes remain), yet an empty option is how a client asks for NSID
# (RFC 5001). The OPT record's options are read again here, empty ones included.
_parse_rr = dnslib.RR.parse


def _edns_options(data: bytes) -> list[dnslib.EDNSOption]:
    """Return the options in an OPT record's data, keeping those without data."""
    options = []
    at = 0
    while at + 4 <= len(data):
        code = int.from_bytes(data[at : at + 2], "big")
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        options.append(dnslib.EDNSOption(code, data[at + 4 : at + 4 + length]))
        at += 4 + length
    return options


def _parse_rr_keeping_empty_options(cls: type[dnslib.RR], buffer: DNSBuffer) -> dnslib.RR:
    """Parse one record as dnslib does; for OPT, read the options again, empty ones too."""
    start = buffer.offset
    rr = _parse_rr(buffer)
    if rr.rtype == dnslib.QTYPE.OPT:
        end = buffer.offset
        buffer.offset = start
        buffer.decode_name()
        buffer.offset += 8  # type, class, TTL
        (length,) = buffer.unpack("!H")
        rr.rdata = _edns_options(buffer.get(length))
        buffer.offset = end
    return rr


dnslib.RR.parse = classmethod(_parse_rr_keeping_empty_options)
