"""tls: syntax and defaults, as CoreDNS's tls plugin reads them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from kdns.corefile import BlockContext, Directive
from kdns.corefile.syntax import Args, choice, single

ClientAuth = Literal["nocert", "request", "require", "verify_if_given", "require_and_verify"]
CLIENT_AUTH: tuple[ClientAuth, ...] = (
    "nocert",
    "request",
    "require",
    "verify_if_given",
    "require_and_verify",
)
#: Transports whose listeners use the server certificate.
TLS_TRANSPORTS = ("tls", "https", "grpc", "quic", "https3")


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """The server certificate, key and client CA of a TLS, gRPC, DoH or DoQ server block."""

    cert: str
    key: str
    ca: str | None = None
    client_auth: ClientAuth = "nocert"


def parse(d: Directive, ctx: BlockContext) -> TlsConfig:
    """Parse `tls CERT KEY [CA] { client_auth ... }`."""
    args = Args(d)
    cert = args.next("certificate file (CERT)")
    key = args.next("key file (KEY)")
    ca = args.optional()
    args.end()
    config = TlsConfig(cert.text, key.text, ca.text if ca is not None else None)
    for prop in d.properties():
        if prop.keyword != "client_auth":
            raise prop.unknown(("client_auth",))
        word = single(prop, "client authentication type")
        config = replace(config, client_auth=choice(word, CLIENT_AUTH, "authentication type"))
    if not any(a.transport in TLS_TRANSPORTS for a in ctx.addresses):
        ctx.warn(
            d.name.pos,
            "tls has no effect in a plain DNS server block: use a tls://, https://, grpc:// "
            "or quic:// key, such as tls://.:853",
        )
    return config
