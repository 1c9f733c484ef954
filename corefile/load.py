"""The one path from a Corefile on disk to the typed model; `kdns check` and serve share it."""

from __future__ import annotations

import os
from collections.abc import Mapping

from kdns.corefile.addresses import (
    CERTIFICATE_TRANSPORTS,
    SERVED_TRANSPORTS,
    ZoneAddress,
    split_key,
)
from kdns.corefile.ast import Directive
from kdns.corefile.errors import CorefileError, Diagnostic, Position, did_you_mean
from kdns.corefile.expand import Expander, Reader
from kdns.corefile.model import Corefile, PluginEntry, ServerBlock, ServerCertificate
from kdns.corefile.spec import BlockContext, PluginSpec
from kdns.corefile.syntax_tree import Line, Word

Registry = Mapping[str, PluginSpec]

#: What CoreDNS serves when the Corefile has no server block (port set by -dns.port).
DEFAULT_COREFILE = ".:{port} {{\n    whoami\n    log\n}}\n"


def load(
    path: str,
    registry: Registry,
    *,
    env: Mapping[str, str] | None = None,
    reader: Reader | None = None,
    default_port: int = 53,
) -> Corefile:
    """Load the Corefile at `path`: parse, expand imports, and run each plugin's parse.

    The registry's iteration order is the execution order of the chain. Raises
    `CorefileError` holding every error found (and the warnings); returns the model with
    its warnings otherwise. Reads only `path` and the files it imports.
    """
    reader = reader or Reader()
    try:
        text = reader.read(path)
    except UnicodeDecodeError as exc:
        raise CorefileError(
            f"the Corefile is not UTF-8 text (byte 0x{exc.object[exc.start]:02x})",
            _byte_position(path, bytes(exc.object), exc.start),
        ) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CorefileError(f"cannot read the Corefile: {reason}", Position(path, 0, 0)) from None
    return loads(text, registry, path=path, env=env, reader=reader, default_port=default_port)


def _byte_position(path: str, data: bytes, offset: int) -> Position:
    """Return the line and column (1-based) of byte `offset` of a file's `data`."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    return Position(path, data.count(b"\n", 0, offset) + 1, offset - line_start + 1)


def loads(
    text: str,
    registry: Registry,
    *,
    path: str = "Corefile",
    env: Mapping[str, str] | None = None,
    reader: Reader | None = None,
    default_port: int = 53,
) -> Corefile:
    """Load Corefile text as if read from `path` (imports resolve relative to it)."""
    expander = Expander(reader or Reader(), os.environ if env is None else env)
    expander.sources[path] = text
    try:
        from kdns.corefile.parser import parse_lines

        lines = tuple(expander.top(parse_lines(text, path)))
    except CorefileError as exc:
        raise CorefileError.collect(
            [*exc.diagnostics, *expander.warnings], expander.sources
        ) from None
    inputs = (*expander.sources, *expander.globs)
    builder = _Builder(registry, default_port)
    servers = builder.blocks(lines)
    diagnostics = [*expander.warnings, *builder.diagnostics]
    if any(d.severity == "error" for d in diagnostics):
        raise CorefileError.collect(diagnostics, expander.sources)
    if not servers:
        default = DEFAULT_COREFILE.format(port=default_port)
        model = loads(default, registry, path="<built-in default>", env={})
        note = Diagnostic(
            "warning",
            Position(path, 1, 1),
            f"no server block: kdns serves the built-in default (.:{default_port} with whoami "
            "and log)",
        )
        return Corefile(path, model.servers, (*diagnostics, note), True, inputs)
    return Corefile(path, tuple(servers), tuple(diagnostics), inputs=inputs)


class _Builder:
    """Turns expanded top-level lines into server blocks, collecting every diagnostic."""

    def __init__(self, registry: Registry, default_port: int) -> None:
        self.registry = registry
        self.order = {name: i for i, name in enumerate(registry)}
        self.default_port = default_port
        self.diagnostics: list[Diagnostic] = []
        self._noted: set[str] = set()

    def error(self, exc: CorefileError, plugin: str | None = None) -> None:
        for d in exc.diagnostics:
            self.diagnostics.append(Diagnostic(d.severity, d.pos, d.message, d.plugin or plugin))

    def blocks(self, lines: tuple[Line, ...]) -> list[ServerBlock]:
        servers: list[ServerBlock] = []
        for i, line in enumerate(lines):
            if line.block is None:
                # A key line without braces: the rest of the file is its body.
                servers.extend(self._braceless(line, lines[i + 1 :]))
                break
            if not line.words:
                self.error(CorefileError("a server block needs a zone before '{'", line.pos))
                continue
            if line.inline_close is not None:
                self.error(
                    CorefileError(
                        "unexpected '}': the '}' that closes a server block must be on a line "
                        "of its own (CoreDNS reads it as part of the directive before it)",
                        line.inline_close,
                    )
                )
            server = self._block(line.words, line.block, line.pos)
            if server is not None:
                servers.append(server)
        self._conflicts(servers)
        return servers

    def _braceless(self, line: Line, rest: tuple[Line, ...]) -> list[ServerBlock]:
        if len(line.words) == 1 and line.words[0].text.startswith("("):
            word = line.words[0]
            self.error(
                CorefileError(
                    f"snippet {word.text} needs a block: write '{word.text} {{', its lines, "
                    "then '}'",
                    word.pos,
                )
            )
            return []
        for word in line.words:
            if word.text in self.registry:
                self.error(
                    CorefileError(
                        f"'{word.text}' is a plugin written outside any server block (here it "
                        "would be read as a zone): put it inside a block such as '. { ... }'",
                        word.pos,
                    )
                )
                return []
        server = self._block(line.words, rest, line.pos)
        return [server] if server is not None else []

    def _keys(self, words: tuple[Word, ...]) -> list[Word]:
        keys = []
        for i, word in enumerate(words):
            if word.text.endswith(",") and not word.quoted:
                word = word.with_text(word.text[:-1])
                if i == len(words) - 1 or word.text == "":
                    self.error(
                        CorefileError(
                            "the key list ends with ',': add another key or remove the comma",
                            words[-1].pos,
                        )
                    )
            if word.text:
                keys.append(word)
        return keys

    def _block(
        self, words: tuple[Word, ...], body: tuple[Line, ...], pos: Position
    ) -> ServerBlock | None:
        addresses: list[ZoneAddress] = []
        for key in self._keys(words):
            try:
                addresses.extend(split_key(key, self.default_port))
            except CorefileError as exc:
                self.error(exc)
        if not addresses:
            return None
        entries: list[PluginEntry] = []
        seen: dict[str, Directive] = {}
        errors_before = sum(d.severity == "error" for d in self.diagnostics)
        for line in body:
            try:
                directive = Directive.from_line(line)
            except CorefileError as exc:
                self.error(exc)
                continue
            entry = self._directive(directive, tuple(addresses), seen, entries)
            if entry is not None:
                entries.append(entry)
        clean = errors_before == sum(d.severity == "error" for d in self.diagnostics)
        self._transports(addresses, entries, clean)
        written = tuple(dict.fromkeys(e.name for e in entries))
        entries.sort(key=lambda e: self.order[e.name])
        return ServerBlock(tuple(addresses), tuple(entries), written, pos)

    def _directive(
        self,
        d: Directive,
        addresses: tuple[ZoneAddress, ...],
        seen: dict[str, Directive],
        before: list[PluginEntry],
    ) -> PluginEntry | None:
        name = d.keyword
        spec = self.registry.get(name)
        if spec is None:
            hint = did_you_mean(name, self.registry)
            if not hint and name.endswith("{"):
                hint = " - put a space before '{'"
            self.error(CorefileError(f"unknown plugin '{name}'{hint}", d.name.pos))
            return None
        if spec.once and name in seen:
            first = seen[name].pos
            self.error(
                CorefileError(
                    f"this plugin can only be used once per server block (first used at line "
                    f"{first.line})",
                    d.name.pos,
                ),
                name,
            )
            return None
        seen.setdefault(name, d)
        earlier = tuple(e.config for e in before if e.name == name)
        ctx = BlockContext(addresses, plugin=name, earlier=earlier)
        try:
            config = spec.parse(d, ctx)
        except CorefileError as exc:
            self.error(exc, name)
            return None
        finally:
            self.diagnostics.extend(ctx.warnings)
        self._support_note(spec, d)
        return PluginEntry(name, config, d)

    def _transports(
        self, addresses: list[ZoneAddress], entries: list[PluginEntry], clean: bool
    ) -> None:
        """Warn about transports kdns does not serve; require a certificate where one is needed.

        The certificate is asked for only when the block has no other error: a `tls` line
        that failed to parse has already been reported.
        """
        secured = any(isinstance(e.config, ServerCertificate) for e in entries)
        keys = {a.key.pos: a for a in addresses}  # a CIDR key expands to several zones
        for addr in keys.values():
            scheme = f"{addr.transport}://"
            if addr.transport not in SERVED_TRANSPORTS:
                self.diagnostics.append(
                    Diagnostic(
                        "warning",
                        addr.key.pos,
                        f"{scheme} is not supported by kdns; kdns serve will refuse to start "
                        "(kdns serves dns://, tls:// and https://)",
                    )
                )
            elif addr.transport in CERTIFICATE_TRANSPORTS and not secured and clean:
                self.error(
                    CorefileError(
                        f"{scheme} needs a server certificate: add 'tls CERT KEY' to this "
                        "server block (see the tls plugin)",
                        addr.key.pos,
                    )
                )

    def _support_note(self, spec: PluginSpec, d: Directive) -> None:
        if spec.support == "served" or spec.name in self._noted:
            return
        self._noted.add(spec.name)
        if spec.support == "unsupported":
            message = "kdns does not serve this CoreDNS plugin; kdns serve will refuse to start"
        else:
            message = "kdns checks this plugin's syntax but cannot serve it yet"
        if spec.note:
            message += f" ({spec.note})"
        self.diagnostics.append(Diagnostic("warning", d.name.pos, message, spec.name))

    def _conflicts(self, servers: list[ServerBlock]) -> None:
        """Reject a zone served twice on the same transport, port and address."""
        taken: dict[tuple[str, str, int, str], ZoneAddress] = {}
        for server in servers:
            if server.filtered():
                continue
            for addr in server.addresses:
                for host in server.listen_hosts():
                    key = (addr.transport, addr.zone, addr.port, host)
                    on = f" on {host}" if host else ""
                    if key in taken:
                        first = taken[key].key.pos
                        self.error(
                            CorefileError(
                                f"cannot serve {addr}{on} - it is already defined at "
                                f"{first.file}:{first.line}:{first.column}",
                                addr.key.pos,
                            )
                        )
                        continue
                    taken[key] = addr
        wildcard = {k[:3]: v for k, v in taken.items() if k[3] == ""}
        for (transport, zone, port, host), addr in taken.items():
            other = wildcard.get((transport, zone, port))
            if host and other is not None:
                later = max(addr, other, key=lambda a: a.key.pos)
                self.error(
                    CorefileError(
                        f"cannot serve {addr} on {host}: the same zone and port are also served "
                        "on every address by another block - bind both blocks or neither",
                        later.key.pos,
                    )
                )
