"""Messages over 16 KiB keep every name intact (dnslib's compression fixed)."""

from __future__ import annotations

import dnslib

import kdns.plugins.base  # noqa: F401 - applies the fix


def test_names_past_16k_survive_a_round_trip() -> None:
    """Repeated names after offset 0x3FFF are written so they parse back as themselves."""
    reply = dnslib.DNSRecord.question("big.example", "TXT").reply()
    names = [f"n{i:04d}.padding-label.example." for i in range(1200)]
    for name in names:
        reply.add_answer(dnslib.RR(name, dnslib.QTYPE.A, rdata=dnslib.A("10.0.0.1")))
    for name in names:  # the same names again, now far past 16 KiB
        reply.add_answer(dnslib.RR(name, dnslib.QTYPE.A, rdata=dnslib.A("10.0.0.2")))
    wire = reply.pack()
    assert len(wire) > 0x3FFF
    parsed = dnslib.DNSRecord.parse(wire)
    assert [str(rr.rname) for rr in parsed.rr] == names + names
