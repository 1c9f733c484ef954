"""forward: sends queries for a zone to upstream resolvers over DNS, DNS-over-TLS or DoH."""

from kdns.corefile import PluginSpec
from kdns.plugins.forward.config import (
    ForwardConfig,
    HealthCheck,
    TlsClient,
    except_zones,
    from_zone,
    parse,
    parse_targets,
)
from kdns.plugins.forward.handler import Forward, build
from kdns.plugins.forward.upstream import ResolvConf, Target, Upstream, parse_target

SPEC = PluginSpec("forward", parse, support="served", build=build)

__all__ = [
    "SPEC",
    "Forward",
    "ForwardConfig",
    "HealthCheck",
    "ResolvConf",
    "Target",
    "TlsClient",
    "Upstream",
    "except_zones",
    "from_zone",
    "parse_target",
    "parse_targets",
]
