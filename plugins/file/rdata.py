"""file: the record types dnslib lacks, and rdata helpers the zone needs."""

from __future__ import annotations

import dnslib


class DNAME(dnslib.CNAME):  # type: ignore[misc]
    """A DNAME record's data (RFC 6672): a target name, never compressed on the wire."""

    def pack(self, buffer: dnslib.DNSBuffer) -> None:
        """Write the target name uncompressed."""
        buffer.encode_name_nocompress(self.label)


def lower(label: dnslib.DNSLabel) -> dnslib.DNSLabel:
    """Return `label` with its ASCII letters lower-cased."""
    return dnslib.DNSLabel(tuple(part.lower() for part in label.label))
