"""proxy -> forward for `kdns migrate`: option mapping, and stanza order (most specific first)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kdns.corefile.syntax_tree import Line
from kdns.corefile.textedit import Edit, apply_edits

if TYPE_CHECKING:
    from kdns.corefile.migrate import Migrator

FORWARD_POLICIES = ("random", "round_robin", "sequential")


def proxy_prop(m: Migrator, p: Line) -> list[Edit] | None:
    """Map one proxy property to forward: keep, rewrite, or delete (None)."""
    key, args = p.words[0], [w.text for w in p.words[1:]]
    match key.text:
        case "except":
            return []
        case "policy" if len(args) == 1 and args[0] in FORWARD_POLICIES:
            return []
        case "policy" if args == ["first"]:
            m.note(key, "forward calls proxy's policy 'first' 'sequential'")
            return [m.replace_word(p.words[1], "sequential")]
        case "policy" if args == ["least_conn"]:
            m.note(
                key,
                "forward has no least_conn policy: deleted, forward's default 'random' "
                "applies (corefile-migration writes force_tcp here, which changes the "
                "transport instead)",
            )
            return None
        case "policy":
            m.note(key, "unknown policy for forward", changed=False)
            return []
        case "fail_timeout":
            m.note(key, "forward has no fail_timeout: deleted")
        case "max_fails":
            m.note(
                key,
                "proxy's max_fails counted failed queries, forward's counts failed health "
                "checks: deleted (forward's default, 2, applies)",
            )
        case "health_check":
            m.note(
                key,
                "proxy's HTTP health check has no forward equivalent (forward checks "
                "upstreams with DNS queries): deleted",
            )
        case "spray":
            m.note(key, "forward has no spray: deleted")
        case "protocol" if args[:1] == ["dns"] and "force_tcp" in args[1:]:
            m.note(key, "'protocol dns force_tcp' is forward's 'force_tcp'")
            return [Edit(*m.src.span(p), "force_tcp")]
        case "protocol" if args == ["dns"]:
            m.note(key, "plain DNS is forward's only protocol for these TO: deleted")
        case "protocol" if args[:1] == ["https_google"]:
            m.note(
                key,
                "protocol https_google sent every query to Google's DNS-over-HTTPS and "
                "ignored TO; forward sends plain DNS to TO: deleted (to keep DNS-over-HTTPS, "
                "write https:// upstreams as TO)",
            )
        case "protocol":
            m.note(key, f"forward cannot speak proxy's '{' '.join(args)}': deleted")
        case _:
            m.note(key, f"forward has no '{key.text}' option: deleted")
    return None


def order_forwards(m: Migrator, stanzas: list[Line]) -> None:
    """Put proxy stanzas most specific first: proxy took the longest FROM that matched,
    forward takes the first stanza written that matches."""
    zones = [_zone(d.words[1].text) if len(d.words) > 1 else "" for d in stanzas]
    wanted = sorted(range(len(stanzas)), key=lambda i: -_depth(zones[i]))
    clash = any(
        _within(zones[j], zones[i]) for i in range(len(stanzas)) for j in range(i + 1, len(stanzas))
    )
    if not clash or wanted == list(range(len(stanzas))):
        return
    spans = [m.src.span(d) for d in stanzas]
    if not all(m.src.standalone(s, e) for s, e in spans):
        m.note(
            stanzas[0].words[0],
            "forward stanzas are tried in the order written: put the more specific zones first",
            changed=False,
        )
        return
    slots = [(m.src.line_start(s), m.src.line_end(e) + 1) for s, e in spans]
    texts = []
    for start, end in slots:
        inside = [x for x in m.edits if start <= x.start and x.end <= end]
        m.edits = [x for x in m.edits if x not in inside]
        moved = [Edit(x.start - start, x.end - start, x.new) for x in inside]
        texts.append(apply_edits(m.src.text[start:end], moved))
    for (start, end), i in zip(slots, wanted, strict=True):
        m.edits.append(Edit(start, end, texts[i]))
    first = stanzas[wanted[0]]
    m.note(
        first.words[0],
        "moved before the less specific forward stanzas: proxy used the most specific "
        "FROM, forward uses the first stanza written that matches",
    )


def _zone(text: str) -> str:
    """Normalize a FROM zone for comparison: lower case, no trailing dot, '' for the root."""
    return text.lower().strip(".")


def _depth(zone: str) -> int:
    return 0 if not zone else zone.count(".") + 1


def _within(inner: str, outer: str) -> bool:
    """Tell whether zone `inner` is `outer` or below it (so `outer` written first hides it)."""
    return not outer or inner == outer or inner.endswith("." + outer)
