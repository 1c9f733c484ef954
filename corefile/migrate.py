"""Rewrite deprecated Corefile syntax the way coredns/corefile-migration does, as text edits.

`migrate(text, path)` is pure: Corefile text in, the migrated text and the reason for each
change out. Only the directives that change are touched; comments, blank lines, indentation and
all other text stay byte for byte. What kdns cannot rewrite is left as written, with a reason
that says so. `kdns migrate` (kdns.runtime.migrate) validates the result the way `kdns check`
does before it writes anything.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from kdns.corefile.errors import Position
from kdns.corefile.migrate_proxy import order_forwards, proxy_prop
from kdns.corefile.parser import parse_lines
from kdns.corefile.syntax_tree import Line, Word
from kdns.corefile.textedit import Edit, Source, apply_edits

Version = tuple[int, ...]

#: The newest CoreDNS release whose Corefile changes are known here (corefile-migration's list
#: ends at 1.11.x; nothing was removed from the Corefile after 1.8.0).
LATEST = "1.12.0"

#: Plugins whose `upstream` option was dropped (CNAME targets are resolved by the server itself).
UPSTREAM_PLUGINS = ("file", "auto", "template", "k8s_external", "route53", "etcd", "clouddns")

#: Plugins CoreDNS removed that kdns cannot replace by a rewrite: name -> what to do instead.
LEFT_ALONE = {
    "reverse": "reverse was removed in CoreDNS 1.1 and has no rewrite: answer PTR queries "
    "with the kubernetes plugin (a CIDR as a zone) or with template",
    "startup": "startup was removed in CoreDNS 1.1.0 (replaced by the external 'on' plugin, "
    "which kdns does not serve): delete it",
    "shutdown": "shutdown was removed in CoreDNS 1.1.0 (replaced by the external 'on' plugin, "
    "which kdns does not serve): delete it",
    "httpproxy": "httpproxy was folded into proxy in CoreDNS 005: write 'forward . "
    "https://...' with a DNS-over-HTTPS upstream",
}


def parse_version(text: str) -> Version:
    """Read a CoreDNS version such as `1.8.0` or `v1.6`; raise ValueError otherwise."""
    parts = text.removeprefix("v").split(".")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"'{text}' is not a CoreDNS version such as 1.8.0")
    return tuple(int(p) for p in parts) + (0,) * (3 - len(parts))


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a directive changed (or why it was left as written), at its original position."""

    pos: Position
    message: str
    changed: bool = True

    def __str__(self) -> str:
        kept = "" if self.changed else "left as written: "
        return f"{self.pos}: {kept}{self.message}"


@dataclass(frozen=True, slots=True)
class Migration:
    """The outcome of migrating one Corefile: the new text and the reasons, in file order."""

    path: str
    original: str
    text: str
    reasons: tuple[Reason, ...]

    @property
    def changed(self) -> bool:
        """Tell whether the text changed."""
        return self.text != self.original

    def diff(self) -> str:
        """Return a unified diff from the original text to the migrated one."""

        def lines(text: str) -> list[str]:
            out = text.splitlines(keepends=True)
            if out and not out[-1].endswith("\n"):
                out[-1] += "\n"
            return out

        return "".join(
            difflib.unified_diff(
                lines(self.original),
                lines(self.text),
                fromfile=self.path,
                tofile=f"{self.path} (migrated)",
            )
        )


def migrate(text: str, path: str = "Corefile", *, to_version: str = LATEST) -> Migration:
    """Migrate Corefile text to `to_version`; raise CorefileError if it cannot be parsed.

    Imported files are not followed (each file is migrated on its own); snippets defined in
    this file are migrated where they are written.
    """
    target = parse_version(to_version)
    bom = text.startswith("\ufeff")
    body = text.removeprefix("\ufeff")
    crlf = "\r\n" in body
    work = body.replace("\r\n", "\n")
    src = Source(work)
    migrator = Migrator(src, target)
    for top in parse_lines(work, path):
        if top.block is not None and top.words:
            migrator.block(top.block)
    new = apply_edits(work, migrator.edits)
    if crlf:
        new = new.replace("\n", "\r\n")
    if bom:
        new = "\ufeff" + new
    if new == text:
        new = text
    return Migration(path, text, new, tuple(sorted(migrator.reasons, key=lambda r: r.pos)))


PropRule = Callable[[Line], "list[Edit] | None"]


class Migrator:
    """Walks the directives of each block and records edits and reasons (one file)."""

    def __init__(self, src: Source, target: Version) -> None:
        self.src = src
        self.target = target
        self.edits: list[Edit] = []
        self.reasons: list[Reason] = []

    def since(self, version: str) -> bool:
        """Tell whether a change made in CoreDNS `version` is within the target version."""
        return self.target >= parse_version(version)

    def note(self, at: Word, message: str, changed: bool = True) -> None:
        """Record a reason at a word's position."""
        self.reasons.append(Reason(at.pos, message, changed))

    def raw(self, word: Word) -> str:
        """Return a word as written (quotes and escapes included)."""
        start = self.src.offset(word.pos)
        return self.src.text[start : self.src.word_end(word)]

    def replace_word(self, word: Word, new: str) -> Edit:
        """Return the edit that replaces one word."""
        return Edit(self.src.offset(word.pos), self.src.word_end(word), new)

    def block(self, lines: tuple[Line, ...]) -> None:
        """Migrate the directives of one server block (or snippet)."""
        proxies: list[Line] = []
        for d in lines:
            if not d.words:
                continue
            name = d.words[0].text
            if name == "proxy":
                if self.proxy(d):
                    proxies.append(d)
            elif name == "kubernetes":
                self.kubernetes(d, lines)
            elif name == "federation" and self.since("1.7.0"):
                self.edits.append(self.src.delete_line(d))
                self.note(
                    d.words[0],
                    "federation was removed from CoreDNS in 1.7.0 and kdns has no federation: "
                    "deleted; federated names (SERVICE.NAMESPACE.FEDERATION.svc.ZONE) are no "
                    "longer answered",
                )
            elif name in UPSTREAM_PLUGINS:
                self.upstream_plugin(d, lines)
            elif name == "log":
                self.log(d)
            elif name in LEFT_ALONE:
                self.note(d.words[0], LEFT_ALONE[name], changed=False)
        if len(proxies) > 1:
            order_forwards(self, proxies)

    def rewrite_props(self, d: Line, rule: PropRule) -> None:
        """Apply `rule` to each property of a directive's block; a rule returns the edits of a
        kept property, or None to delete it. A block left empty is removed with its braces."""
        if not d.block:
            return
        kept: list[Edit] = []
        deleted: list[Edit] = []
        for p in d.block:
            found = rule(p) if p.words else []
            if found is None:
                deleted.append(self.src.delete_line(p))
            else:
                kept.extend(found)
        if not deleted:
            self.edits.extend(kept)
            return
        assert d.open_pos is not None
        brace = self.src.offset(d.open_pos)
        end = self.src.block_end(d)
        inner = apply_edits(self.src.text, deleted)[brace + 1 : end - 1 - _removed(deleted)]
        if not kept and not inner.strip():
            lead = brace
            while lead > 0 and self.src.text[lead - 1] in " \t":
                lead -= 1
            self.edits.append(Edit(lead, end))
        else:
            self.edits.extend([*kept, *deleted])

    # proxy -> forward (CoreDNS 1.4.0 deprecated it, 1.5.0 removed it)

    def proxy(self, d: Line) -> bool:
        """Rename proxy to forward and map its options; return True if it was renamed."""
        if not self.since("1.5.0"):
            if self.since("1.2.0"):
                self.rewrite_props(d, self.proxy_https_google)
            return False
        name = d.words[0]
        self.edits.append(self.replace_word(name, "forward"))
        self.note(
            name,
            "proxy was removed in CoreDNS 1.5.0: renamed to forward (same FROM and TO)",
        )
        self.rewrite_props(d, lambda p: proxy_prop(self, p))
        return True

    def proxy_https_google(self, p: Line) -> list[Edit] | None:
        """Drop `protocol https_google`, which CoreDNS 1.2.0 removed from proxy."""
        words = [w.text for w in p.words]
        if words[:2] == ["protocol", "https_google"]:
            self.note(p.words[0], "proxy's 'protocol https_google' was removed in CoreDNS 1.2.0")
            return None
        return []

    # kubernetes (upstream, resyncperiod, endpoint, transfer)

    def kubernetes(self, d: Line, siblings: tuple[Line, ...]) -> None:
        """Remove the options CoreDNS dropped from kubernetes; move transfer to its plugin."""
        to: list[str] = []

        def prop(p: Line) -> list[Edit] | None:
            key, args = p.words[0], p.words[1:]
            if key.text == "upstream" and self.since("1.5.0"):
                self.note(
                    key,
                    "kubernetes 'upstream' was removed in CoreDNS 1.7.0 (ignored since 1.5.0): "
                    "deleted; CNAME targets are resolved through the server itself",
                )
                return None
            if key.text == "resyncperiod" and self.since("1.6.0"):
                self.note(
                    key,
                    "kubernetes 'resyncperiod' was removed in CoreDNS 1.7.0 (ignored since "
                    "1.6.0): deleted; the API is watched continuously",
                )
                return None
            if key.text == "endpoint" and len(args) > 1 and self.since("1.4.0"):
                self.note(
                    args[1],
                    "kubernetes uses only the first 'endpoint' since CoreDNS 1.4.0: the "
                    "others are deleted",
                )
                start = self.src.word_end(args[0])
                return [Edit(start, self.src.word_end(args[-1]))]
            if key.text == "transfer" and self.since("1.8.0"):
                return self.transfer_prop(p, to)
            return []

        self.rewrite_props(d, prop)
        if to:
            self.add_transfer(d, [self.raw(w) for w in d.words[1:2]], to, siblings)

    def transfer_prop(self, p: Line, to: list[str]) -> list[Edit] | None:
        """Take `transfer to ADDRESS...` out of a plugin's block (CoreDNS 1.8.0)."""
        key, args = p.words[0], p.words[1:]
        if len(args) < 2 or args[0].text != "to":
            self.note(
                key,
                "'transfer' moved to the transfer plugin in CoreDNS 1.8.0, and only "
                "'transfer to ADDRESS...' can be moved: rewrite it by hand",
                changed=False,
            )
            return []
        to.extend(self.raw(w) for w in args[1:])
        self.note(
            key,
            "zone transfers moved to the transfer plugin in CoreDNS 1.8.0: now a 'transfer' "
            "directive after this plugin",
        )
        return None

    def add_transfer(
        self, d: Line, zones: list[str], to: list[str], siblings: tuple[Line, ...]
    ) -> None:
        """Insert `transfer ZONES { to ADDRESS... }` after directive `d`."""
        if any(s.words and s.words[0].text == "transfer" for s in siblings):
            self.note(
                d.words[0],
                "this server block already has a transfer plugin: add 'to "
                + " ".join(to)
                + "' to it by hand",
                changed=False,
            )
            return
        start, end = self.src.span(d)
        indent = self.src.indent(start)
        unit = self.src.block_unit(d)
        head = " ".join(["transfer", *zones])
        text = f"\n{indent}{head} {{\n{indent}{unit}to {' '.join(to)}\n{indent}}}"
        self.edits.append(Edit(self.src.line_end(end), self.src.line_end(end), text))

    # upstream in file, template, k8s_external, ...; file's no_reload and transfer

    def upstream_plugin(self, d: Line, siblings: tuple[Line, ...]) -> None:
        """Delete `upstream` (CoreDNS 1.7.0) and migrate file's no_reload and transfer."""
        name = d.words[0].text
        to: list[str] = []

        def prop(p: Line) -> list[Edit] | None:
            key = p.words[0]
            if key.text == "upstream" and self.since("1.7.0"):
                self.note(
                    key,
                    f"{name} 'upstream' was removed in CoreDNS 1.7.0: deleted; CNAME targets "
                    "are resolved through the server itself",
                )
                return None
            if name == "file" and key.text == "no_reload" and self.since("1.5.0"):
                self.note(key, "file 'no_reload' was removed in CoreDNS 1.5.0: now 'reload 0'")
                return [Edit(*self.src.span(p), "reload 0")]
            if name == "file" and key.text == "transfer" and self.since("1.8.0"):
                return self.transfer_prop(p, to)
            return []

        self.rewrite_props(d, prop)
        if to:
            self.add_transfer(d, [self.raw(w) for w in d.words[2:]], to, siblings)

    def log(self, d: Line) -> None:
        """`log stdout`: the file argument went away; stdout was the only place it logged."""
        if [w.text for w in d.words] == ["log", "stdout"] and d.block is None:
            word = d.words[1]
            self.edits.append(self.src.delete(self.src.offset(word.pos), self.src.word_end(word)))
            self.note(
                d.words[1],
                "log's file argument was removed before CoreDNS 1.1: 'log stdout' is now "
                "'log' (it would be read as the name 'stdout.')",
            )


def _removed(edits: list[Edit]) -> int:
    """Return how many characters the edits remove."""
    return sum(e.end - e.start - len(e.new) for e in edits)
