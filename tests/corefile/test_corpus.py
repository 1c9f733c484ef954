"""Every real-world Corefile of the research corpus gets the outcome CoreDNS gives it.

Two deliberate differences (the issue asks for them): deprecated syntax (`proxy`, the
kubernetes plugin's `upstream`) passes with a warning naming the replacement, and a brace
glued to a key (C35), which CoreDNS silently misreads, is an error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kdns.corefile import CorefileError, load
from kdns.plugins import default_registry

CORPUS = Path(__file__).parent / "corpus"

VALID = {
    "c01",
    "c05-1",
    "c05-2",
    "c06",
    "c08",
    "c09",
    "c11",
    "c19",
    "c20",
    "c22-1",
    "c22-2",
    "c22-3",
    "c23-1",
    "c23-3",
    "c23-5",
    "c24-1",
    "c24-2",
    "c24-3",
    "c26-1",
    "c26-2",
    "c26-3",
    "c27-1",
    "c27-2",
    "c28",
    "c29",
    "c32",
    "c39",
    "c44",
}
#: Valid, with a warning containing this text (deprecated syntax still run by old clusters).
DEPRECATED = {
    "c03": ["proxy", "upstream"],
    "c04": ["proxy", "upstream"],
    "c12": ["proxy", "upstream"],
    "c40": ["proxy"],
    "c43": ["proxy"],
}
#: Broken: (line, text of the error). CoreDNS names the same line unless noted.
BROKEN = {
    "c23-2": (5, "cannot serve dns://.:1054 - it is already defined"),
    # CoreDNS: "Corefile:3 - Unknown directive '.'"; kdns names the cause on line 1.
    "c23-4": (1, "'health' is a plugin written outside any server block"),
    "c30": (2, "${NAMESERVERS}"),
    "c31": (3, "unknown plugin 'omada'"),
    "c33": (2, "unknown plugin '%{'"),
    "c34": (1, "must be on a line of its own"),
    # CoreDNS starts and serves the zone "www.mydomain.com:1053{." on port 53.
    "c35": (1, "put a space before '{'"),
}
ENV = {"c42": {"WINDOWS_AD_SERVERS": "1.2.3.4 1.2.3.5"}}
BROKEN_WITH_ENV = {"c42": (2, "1.2.3.4 1.2.3.5")}


def test_every_corpus_file_has_an_expected_outcome() -> None:
    """No corpus file is left out of the tables."""
    names = {p.stem for p in CORPUS.glob("*.corefile")}
    assert names == VALID | set(DEPRECATED) | set(BROKEN) | set(BROKEN_WITH_ENV)


@pytest.mark.parametrize("name", sorted(VALID | set(DEPRECATED)))
def test_valid_corefiles_load(name: str) -> None:
    """The production Corefiles load; deprecated ones warn and name the replacement."""
    model = load(str(CORPUS / f"{name}.corefile"), default_registry(), env={})
    assert model.servers
    for word in DEPRECATED.get(name, []):
        assert any(
            (word in w.message and "deprecat" in w.message.lower())
            or (word in w.message and "removed" in w.message)
            for w in model.warnings
        ), f"no deprecation warning about {word}: {[w.message for w in model.warnings]}"


@pytest.mark.parametrize("name", sorted(set(BROKEN) | set(BROKEN_WITH_ENV)))
def test_broken_corefiles_fail_at_the_line_coredns_names(name: str) -> None:
    """Broken Corefiles fail, at CoreDNS's line or earlier, with the expected message."""
    line, text = {**BROKEN, **BROKEN_WITH_ENV}[name]
    with pytest.raises(CorefileError) as info:
        load(str(CORPUS / f"{name}.corefile"), default_registry(), env=ENV.get(name, {}))
    first = info.value.errors[0]
    assert first.pos.line == line, first.headline()
    assert text in first.message, first.headline()
