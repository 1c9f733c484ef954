"""The execution order of the plugin chain: CoreDNS's plugin.cfg, in one place.

This is CoreDNS's plugin.cfg as of v1.14.7 (rewrite, autopath and acl before cache; tls
after dnssec), with the historic `proxy` right after `forward` where CoreDNS 1.4 had it.
A query meets the plugins of its server block in this order, whatever order the Corefile
lists them in. The list is also the set of names kdns recognises as CoreDNS plugins.
"""

from __future__ import annotations

CHAIN_ORDER: tuple[str, ...] = (
    "root",
    "metadata",
    "geoip",
    "cancel",
    "proxyproto",
    "quic",
    "grpc_server",
    "https",
    "https3",
    "timeouts",
    "multisocket",
    "reload",
    "nsid",
    "bufsize",
    "bind",
    "debug",
    "trace",
    "ready",
    "health",
    "pprof",
    "shed",
    "prometheus",
    "errors",
    "log",
    "dnstap",
    "local",
    "dns64",
    "any",
    "chaos",
    "loadbalance",
    "tsig",
    "rewrite",
    "autopath",
    "acl",
    "cache",
    "header",
    "dnssec",
    "tls",
    "minimal",
    "template",
    "transfer",
    "hosts",
    "route53",
    "azure",
    "clouddns",
    "k8s_external",
    "kubernetes",
    "file",
    "auto",
    "secondary",
    "etcd",
    "loop",
    "forward",
    "proxy",
    "grpc",
    "erratic",
    "whoami",
    "on",
    "sign",
    "view",
    "nomad",
)

#: Directives that configure the server or run side listeners; they never see a query.
NOT_IN_CHAIN: frozenset[str] = frozenset(
    {
        "root",
        "bind",
        "debug",
        "reload",
        "health",
        "ready",
        "pprof",
        "timeouts",
        "multisocket",
        "proxyproto",
        "quic",
        "grpc_server",
        "https",
        "https3",
        "on",
    }
)
