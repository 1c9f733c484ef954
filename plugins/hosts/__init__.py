"""hosts: answers A, AAAA and PTR queries from an /etc/hosts-style file and inline entries."""

from kdns.corefile import PluginSpec
from kdns.plugins.hosts.config import HostsConfig, HostsEntry, parse

SPEC = PluginSpec("hosts", parse, once=True)

__all__ = ["SPEC", "HostsConfig", "HostsEntry"]
