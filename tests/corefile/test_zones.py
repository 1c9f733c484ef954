"""Zone containment: the one test every plugin's "is this name in my zones" goes through."""

from __future__ import annotations

import pytest

from kdns.corefile.syntax import Fallthrough, in_zone, in_zones, longest_zone


@pytest.mark.parametrize(
    ("name", "zone", "inside"),
    [
        ("example.org.", "example.org.", True),
        ("a.b.example.org.", "example.org.", True),
        ("example.org.", ".", True),
        (".", ".", True),
        ("badexample.org.", "example.org.", False),
        ("org.", "example.org.", False),
        (".", "org.", False),
    ],
)
def test_in_zone(name: str, zone: str, inside: bool) -> None:
    assert in_zone(name, zone) is inside
    assert in_zones(name, ("other.", zone)) is inside
    assert Fallthrough((zone,)).covers(name) is inside


def test_longest_zone_picks_the_closest_enclosing_zone() -> None:
    zones = (".", "org.", "a.example.org.", "example.org.", "xample.org.")
    assert longest_zone("www.a.example.org.", zones) == "a.example.org."
    assert longest_zone("b.example.org.", zones) == "example.org."
    assert longest_zone("example.net.", zones) == "."
    assert longest_zone("example.net.", zones[1:]) is None
    assert longest_zone("x.", ()) is None
    assert not in_zones("x.", ())
