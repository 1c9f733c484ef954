"""The typed, frozen model of a loaded Corefile: server blocks, zones, plugin configs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from kdns.corefile.addresses import ZoneAddress
from kdns.corefile.ast import Directive
from kdns.corefile.errors import Diagnostic, Position


@runtime_checkable
class ListenHosts(Protocol):
    """A server-level config that chooses the addresses a block listens on (`bind`)."""

    def listen_hosts(self) -> tuple[str, ...]:
        """Return the hosts (IPs or interface names) the block listens on."""
        ...

    def excluded_hosts(self) -> tuple[str, ...]:
        """Return the hosts (IPs or interface names) to leave out once names are resolved."""
        ...


@runtime_checkable
class QueryFilter(Protocol):
    """A config that admits only some queries to its block (`view`), so blocks may overlap."""

    def filter_name(self) -> str:
        """Return the name of the filter (the view's name)."""
        ...


@runtime_checkable
class ServerCertificate(Protocol):
    """A config that gives a block's encrypted listeners their certificate (`tls`)."""

    def certificate(self) -> tuple[str, str]:
        """Return the certificate and key files, as written."""
        ...


@dataclass(frozen=True, slots=True)
class PluginEntry:
    """One directive of a server block, with the config its plugin parsed from it."""

    name: str
    config: object
    directive: Directive

    @property
    def pos(self) -> Position:
        """Return where the directive was written."""
        return self.directive.pos


@dataclass(frozen=True, slots=True)
class ServerBlock:
    """One server block: the zones it serves and its plugins in execution order.

    `plugins` holds one entry per directive; a plugin written several times (forward, log)
    has several entries, adjacent and in written order.
    """

    addresses: tuple[ZoneAddress, ...]
    plugins: tuple[PluginEntry, ...]
    written: tuple[str, ...]
    pos: Position

    @property
    def zones(self) -> tuple[str, ...]:
        """Return the zones served, without repeats, in key order."""
        return tuple(dict.fromkeys(a.zone for a in self.addresses))

    def configs(self, name: str) -> tuple[object, ...]:
        """Return the configs parsed for plugin `name`, in written order."""
        return tuple(p.config for p in self.plugins if p.name == name)

    def listen_hosts(self) -> tuple[str, ...]:
        """Return the hosts this block listens on; `("",)` means every address."""
        hosts = [
            h
            for p in self.plugins
            if isinstance(p.config, ListenHosts)
            for h in p.config.listen_hosts()
        ]
        return tuple(dict.fromkeys(hosts)) or ("",)

    def excluded_hosts(self) -> tuple[str, ...]:
        """Return the hosts the block's bind leaves out."""
        return tuple(
            h
            for p in self.plugins
            if isinstance(p.config, ListenHosts)
            for h in p.config.excluded_hosts()
        )

    def filtered(self) -> bool:
        """Tell whether a plugin of this block admits only some queries (view)."""
        return any(isinstance(p.config, QueryFilter) for p in self.plugins)


@dataclass(frozen=True, slots=True)
class Corefile:
    """A loaded Corefile: its server blocks in file order and the warnings found."""

    path: str
    servers: tuple[ServerBlock, ...]
    warnings: tuple[Diagnostic, ...] = ()
    #: True when the file held no server block and the built-in default is served.
    default: bool = False
    #: Every file read (the Corefile and its imports) and every import glob, for reload.
    inputs: tuple[str, ...] = ()
