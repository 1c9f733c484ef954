"""DNS mnemonics (record types, classes, response codes) and the helpers that read them.

The tables spell names as miekg/dns does (StringToType, StringToClass, StringToRcode), which
is how CoreDNS plugins read them; record types also include every name dnslib knows.
"""

from __future__ import annotations

import dnslib

from kdns.corefile.errors import CorefileError, did_you_mean
from kdns.corefile.syntax_tree import Word

#: Record types by mnemonic: miekg/dns StringToType, plus what dnslib adds (A6).
QTYPES: dict[str, int] = {
    "A": 1, "NS": 2, "MD": 3, "MF": 4, "CNAME": 5, "SOA": 6, "MB": 7, "MG": 8, "MR": 9,
    "NULL": 10, "PTR": 12, "HINFO": 13, "MINFO": 14, "MX": 15, "TXT": 16, "RP": 17,
    "AFSDB": 18, "X25": 19, "ISDN": 20, "RT": 21, "NSAPPTR": 23, "SIG": 24, "KEY": 25,
    "PX": 26, "GPOS": 27, "AAAA": 28, "LOC": 29, "NXT": 30, "EID": 31, "NIMLOC": 32,
    "SRV": 33, "ATMA": 34, "NAPTR": 35, "KX": 36, "CERT": 37, "DNAME": 39, "OPT": 41,
    "APL": 42, "DS": 43, "SSHFP": 44, "IPSECKEY": 45, "RRSIG": 46, "NSEC": 47, "DNSKEY": 48,
    "DHCID": 49, "NSEC3": 50, "NSEC3PARAM": 51, "TLSA": 52, "SMIMEA": 53, "HIP": 55,
    "NINFO": 56, "RKEY": 57, "TALINK": 58, "CDS": 59, "CDNSKEY": 60, "OPENPGPKEY": 61,
    "CSYNC": 62, "ZONEMD": 63, "SVCB": 64, "HTTPS": 65, "SPF": 99, "UINFO": 100, "UID": 101,
    "GID": 102, "UNSPEC": 103, "NID": 104, "L32": 105, "L64": 106, "LP": 107, "EUI48": 108,
    "EUI64": 109, "NXNAME": 128, "TKEY": 249, "TSIG": 250, "IXFR": 251, "AXFR": 252,
    "MAILB": 253, "MAILA": 254, "ANY": 255, "URI": 256, "CAA": 257, "AVC": 258,
    "AMTRELAY": 260, "RESINFO": 261, "TA": 32768, "DLV": 32769,
}  # fmt: skip
QTYPES.update({str(v): int(k) for k, v in dnslib.QTYPE.forward.items()})

#: Query classes by mnemonic (StringToClass).
QCLASSES: dict[str, int] = {"IN": 1, "CS": 2, "CH": 3, "HS": 4, "NONE": 254, "ANY": 255}

#: Response codes by mnemonic (StringToRcode, with its NOTIMPL alias).
RCODES: dict[str, int] = {
    "NOERROR": 0, "FORMERR": 1, "SERVFAIL": 2, "NXDOMAIN": 3, "NOTIMP": 4, "NOTIMPL": 4,
    "REFUSED": 5, "YXDOMAIN": 6, "YXRRSET": 7, "NXRRSET": 8, "NOTAUTH": 9, "NOTZONE": 10,
    "DSOTYPENI": 11, "BADSIG": 16, "BADKEY": 17, "BADTIME": 18, "BADMODE": 19, "BADNAME": 20,
    "BADALG": 21, "BADTRUNC": 22, "BADCOOKIE": 23,
}  # fmt: skip

TYPE_EXAMPLES = "a record type such as A, AAAA, PTR, TXT or ANY"
CLASS_EXAMPLES = "one of " + ", ".join(QCLASSES)
RCODE_EXAMPLES = "a response code such as NOERROR, NXDOMAIN, SERVFAIL or REFUSED"


def _lookup(word: Word, table: dict[str, int], what: str, examples: str, any_case: bool) -> str:
    text = word.text.upper() if any_case else word.text
    if text in table:
        return text
    if word.text.upper() in table:
        hint = f" - write it in upper case: '{word.text.upper()}'"
    else:
        hint = did_you_mean(word.text, table) or f" - expected {examples}"
    raise CorefileError(f"invalid {what} '{word.text}'{hint}", word.pos)


def qtype_name(word: Word, *, what: str = "query type", any_case: bool = False) -> str:
    """Read a record type mnemonic (`AAAA`); upper case only unless `any_case`."""
    return _lookup(word, QTYPES, what, TYPE_EXAMPLES, any_case)


def qtype(word: Word, *, what: str = "query type", any_case: bool = False) -> int:
    """Read a record type mnemonic as its number (`AAAA` is 28)."""
    return QTYPES[qtype_name(word, what=what, any_case=any_case)]


def qclass_name(word: Word, *, what: str = "query class", any_case: bool = False) -> str:
    """Read a query class mnemonic (`IN`, `CH`, ...); upper case only unless `any_case`."""
    return _lookup(word, QCLASSES, what, CLASS_EXAMPLES, any_case)


def rcode(word: Word, *, what: str = "rcode", any_case: bool = False) -> int:
    """Read a response code mnemonic as its number (`NXDOMAIN` is 3)."""
    return RCODES[_lookup(word, RCODES, what, RCODE_EXAMPLES, any_case)]
