"""tls: builds the server's TLS contexts from the certificate files when the block starts."""

from __future__ import annotations

import os
import ssl

from kdns.plugins.base import BuildContext, Handler, Plugin, PluginError
from kdns.plugins.tls.config import ClientAuth, TlsConfig

#: Go's tls.ClientAuthType, as far as Python's ssl module can say it (see README, Bugs).
VERIFY_MODES: dict[ClientAuth, ssl.VerifyMode] = {
    "nocert": ssl.CERT_NONE,
    "request": ssl.CERT_OPTIONAL,
    "require": ssl.CERT_REQUIRED,
    "verify_if_given": ssl.CERT_OPTIONAL,
    "require_and_verify": ssl.CERT_REQUIRED,
}
#: ALPN protocols offered per transport: RFC 7858's "dot"; DoH over HTTP/1.1 only.
ALPN: dict[str, tuple[str, ...]] = {"tls": ("dot",), "https": ("http/1.1",)}


def server_context(config: TlsConfig, transport: str, base: str = "") -> ssl.SSLContext:
    """Return a server TLS context (TLS 1.2 or later) for `transport`; reads the files.

    Raises PluginError naming the file that could not be read.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    cert, key = (os.path.join(base, p) for p in config.certificate())
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise PluginError("tls", f"cannot load certificate {cert} with key {key}: {exc}") from None
    ctx.verify_mode = VERIFY_MODES[config.client_auth]
    if ctx.verify_mode != ssl.CERT_NONE:
        if config.ca is None:
            ctx.load_default_certs(ssl.Purpose.CLIENT_AUTH)
        else:
            ca = os.path.join(base, config.ca)
            try:
                ctx.load_verify_locations(cafile=ca)
            except (OSError, ssl.SSLError) as exc:
                raise PluginError("tls", f"cannot load client CA {ca}: {exc}") from None
    if config.keylog is not None:
        ctx.keylog_filename = os.path.join(base, config.keylog)
    ctx.set_alpn_protocols(list(ALPN.get(transport, ())))
    return ctx


class Tls(Plugin[TlsConfig]):
    """Holds the TLS contexts of a block's tls:// and https:// listeners; never sees a query."""

    name = "tls"

    def __init__(
        self, configs: tuple[TlsConfig, ...], nxt: Handler | None, ctx: BuildContext
    ) -> None:
        super().__init__(configs, nxt, ctx)
        self.contexts: dict[str, ssl.SSLContext] = {}

    def base(self) -> str:
        """Return the directory relative file names start from (the block's root, or "")."""
        roots = self.ctx.configs.get("root", ())
        return str(getattr(roots[-1], "path", "")) if roots else ""

    async def start(self) -> None:
        """Read the certificate, key and CA files once and build one context per transport."""
        self.contexts = {t: server_context(self.config, t, self.base()) for t in ALPN}

    def server_context(self, transport: str) -> ssl.SSLContext | None:
        """Return the context for `transport` (tls, https), None before start."""
        return self.contexts.get(transport)
