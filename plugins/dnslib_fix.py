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
