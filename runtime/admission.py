"""What the server asks of a packet before any plugin sees it, as miekg/dns asks for CoreDNS."""

from __future__ import annotations

import struct
from typing import Final

import dnslib

from kdns.plugins.base import FORMERR, NOTIMP

QUERY: Final = 0
NOTIFY: Final = 4
#: What `admission` says of a packet that gets no reply at all.
DROP: Final = -1


def admission(wire: bytes) -> int | None:
    """Judge a packet by its header alone, as miekg/dns's default accept function does for
    CoreDNS: None to serve it, DROP to drop it, else the rcode to reject it with.

    Responses and packets without a header are dropped; opcodes other than QUERY and NOTIFY
    get NOTIMP (no UPDATE reaches forward and an upstream); a set Z bit, a question count
    other than one, more than one answer record (a NOTIFY may carry its SOA) or authority
    record (an IXFR query carries its SOA), or more than two additional records get FORMERR.
    """
    if len(wire) < 12 or wire[2] & 0x80:
        return DROP
    if (wire[2] >> 3) & 0xF not in (QUERY, NOTIFY):
        return NOTIMP
    qd, an, ns, ar = struct.unpack_from("!HHHH", wire, 4)
    if wire[3] & 0x40 or qd != 1 or an > 1 or ns > 1 or ar > 2:
        return FORMERR
    return None


def names_fit(msg: dnslib.DNSRecord) -> bool:
    """Tell whether every owner name is one a reply can encode: labels of at most 63 octets,
    255 octets in all.

    dnslib reads longer names (through compression pointers, or plainly) and reads the
    reserved label types 0x40 and 0x80 as long labels, but cannot write them back; miekg/dns
    refuses such a message when it reads it, so CoreDNS answers FORMERR.
    """
    names = [q.qname for q in msg.questions] + [rr.rname for rr in (*msg.rr, *msg.auth, *msg.ar)]
    for name in names:
        if sum(len(label) + 1 for label in name.label) > 254:
            return False
        if any(len(label) > 63 for label in name.label):
            return False
    return True
