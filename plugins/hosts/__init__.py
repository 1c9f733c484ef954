"""hosts: answers A, AAAA and PTR queries from an /etc/hosts-style file and inline entries."""

from kdns.corefile import PluginSpec
from kdns.plugins.hosts.config import HostsConfig, HostsEntry, parse
from kdns.plugins.hosts.handler import Hosts

SPEC = PluginSpec("hosts", parse, once=True, support="served", build=Hosts)

__all__ = ["SPEC", "Hosts", "HostsConfig", "HostsEntry"]
