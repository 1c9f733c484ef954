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
    #: Where to write the TLS secrets in key log format (debugging only).
    keylog: str | None = None

    def certificate(self) -> tuple[str, str]:
        """Return the certificate and key files, as written."""
        return self.cert, self.key


def parse(d: Directive, ctx: BlockContext) -> TlsConfig:
    """Parse `tls CERT KEY [CA] { client_auth TYPE; keylog FILE }`."""
    args = Args(d)
    cert = args.next("certificate file (CERT)")
    key = args.next("key file (KEY)")
    ca = args.optional()
    args.end()
    config = TlsConfig(cert.text, key.text, ca.text if ca is not None else None)
    for prop in d.properties():
        if prop.keyword == "client_auth":
            word = single(prop, "client authentication type")
            auth = choice(word, CLIENT_AUTH, "authentication type")
            config = replace(config, client_auth=auth)
        elif prop.keyword == "keylog":
            config = replace(config, keylog=single(prop, "key log file").text)
        else:
            raise prop.unknown(("client_auth", "keylog"))
    if not any(a.transport in TLS_TRANSPORTS for a in ctx.addresses):
        ctx.warn(
            d.name.pos,
            "tls has no effect in a plain DNS server block: use a tls:// or https:// key, "
            "such as tls://.:853",
        )
    return config
