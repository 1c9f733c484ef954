"""What `kdns check --explain` prints: each block's zones, listeners and effective chain."""

from __future__ import annotations

from collections.abc import Mapping

from kdns.corefile.errors import Diagnostic
from kdns.corefile.model import Corefile, ServerBlock
from kdns.corefile.spec import PluginSpec


def order_warnings(model: Corefile, registry: Mapping[str, PluginSpec]) -> list[Diagnostic]:
    """Warn for each block whose written plugin order differs from the execution order."""
    found = []
    for server in model.servers:
        chain = [e.name for e in server.plugins if _in_chain(e.name, registry)]
        written = [n for n in server.written if _in_chain(n, registry)]
        if written != list(dict.fromkeys(chain)):
            found.append(
                Diagnostic(
                    "warning",
                    server.pos,
                    "plugins are written in the order "
                    + ", ".join(written)
                    + " but run in the fixed order "
                    + ", ".join(dict.fromkeys(chain))
                    + " (the Corefile order never changes execution)",
                )
            )
    return found


def _in_chain(name: str, registry: Mapping[str, PluginSpec]) -> bool:
    spec = registry.get(name)
    return spec is None or spec.in_chain


def explain(model: Corefile, registry: Mapping[str, PluginSpec]) -> str:
    """Render every server block of `model` as indented text."""
    parts = []
    for server in model.servers:
        parts.append(_block(server, registry))
    return "\n".join(parts)


def _block(server: ServerBlock, registry: Mapping[str, PluginSpec]) -> str:
    pos = server.pos
    lines = [f"server block at {pos.file}:{pos.line}:"]
    lines.append("  zones:   " + " ".join(_zones(server)))
    hosts = server.listen_hosts()
    listen = sorted(
        {f"{a.transport}://{_hostport(h, a.port)}" for a in server.addresses for h in hosts}
    )
    lines.append("  listen:  " + " ".join(listen))
    names = dict.fromkeys(e.name for e in server.plugins)
    chain = [n for n in names if _in_chain(n, registry)]
    side = [n for n in names if not _in_chain(n, registry)]
    lines.append(
        "  chain:   " + (" -> ".join(chain) if chain else "(empty: every query is REFUSED)")
    )
    if side:
        lines.append("  server:  " + ", ".join(side))
    return "\n".join(lines)


def _hostport(host: str, port: int) -> str:
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def _zones(server: ServerBlock) -> list[str]:
    """Show each key's zones; a CIDR key that expands to many zones is shortened."""
    by_key: dict[int, list[str]] = {}
    for addr in server.addresses:
        by_key.setdefault(id(addr.key), []).append(str(addr))
    shown = []
    for zones in by_key.values():
        if len(zones) > 4:
            shown.append(f"{zones[0]} ... {zones[-1]} ({len(zones)} zones)")
        else:
            shown.extend(zones)
    return shown
