"""forward: the TO arguments, as CoreDNS's forward reads them (addresses, hostnames, files)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from kdns.corefile import BlockContext, CorefileError, Word
from kdns.corefile.addresses import is_domain_name

UpstreamTransport = Literal["dns", "tls", "https"]

#: CoreDNS's default ports per upstream transport.
DEFAULT_PORTS: dict[str, int] = {"dns": 53, "tls": 853, "https": 443}
#: Schemes CoreDNS recognises in a TO; forward serves only some of them.
KNOWN_SCHEMES = ("dns", "tls", "https", "quic", "grpc", "https3", "unix")
_TRANSPORTS: dict[str, UpstreamTransport] = {"dns": "dns", "tls": "tls", "https": "https"}
_HOSTNAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?")


@dataclass(frozen=True, slots=True)
class Upstream:
    """One upstream server: an IP address (or a hostname resolved at startup), port, transport.

    `server_name` is the per-upstream TLS server name of `tls://IP%NAME`.
    """

    host: str
    port: int
    transport: UpstreamTransport = "dns"
    server_name: str | None = None
    hostname: bool = False

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}://{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ResolvConf:
    """A resolv.conf-style file whose `nameserver` lines are the upstreams (read at startup)."""

    path: str

    def __str__(self) -> str:
        return self.path


Target = Upstream | ResolvConf


def _split_scheme(word: Word, allowed: Sequence[str], plugin: str) -> tuple[UpstreamTransport, str]:
    text = word.text
    scheme, sep, rest = text.partition("://")
    if not sep:
        return "dns", text
    if scheme not in KNOWN_SCHEMES:
        raise CorefileError(
            f"unknown protocol '{scheme}://' in '{text}': use "
            + ", ".join(f"{s}://" for s in allowed),
            word.pos,
        )
    if scheme not in allowed or scheme not in _TRANSPORTS:
        raise CorefileError(
            f"'{scheme}' is not supported as a destination protocol in {plugin}: {text}",
            word.pos,
        )
    if not rest:
        raise CorefileError(f"missing address after '{scheme}://' in '{text}'", word.pos)
    return _TRANSPORTS[scheme], rest


def _split_server_name(word: Word, rest: str) -> tuple[str, str | None]:
    """Split `IP%NAME[:PORT]` / `[IP%NAME]:PORT` into `IP[:PORT]` and NAME."""
    head, _, tail = rest.rpartition("%")
    name, port = tail, ""
    if ":" in tail:
        name, _, port = tail.rpartition(":")
        name = name.removesuffix("]")
    if head.startswith("["):
        head += "]"
    if not name:
        raise CorefileError(f"missing TLS server name after '%' in '{word.text}'", word.pos)
    return (f"{head}:{port}" if port else head), name


def _host_port(word: Word, rest: str, default: int) -> tuple[str, int]:
    text = word.text
    if rest.startswith("["):
        inner, sep, after = rest[1:].partition("]")
        if not sep or not after.startswith(":"):
            raise CorefileError(
                f"'{text}': a bracketed IPv6 address needs a port, as in [::1]:53 "
                "(or drop the brackets)",
                word.pos,
            )
        return inner, _port(word, after[1:])
    if rest.count(":") == 1:
        host, _, port = rest.partition(":")
        return host, _port(word, port)
    return rest, default


def _port(word: Word, text: str) -> int:
    if not text:
        raise CorefileError(f"missing port after ':' in '{word.text}'", word.pos)
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise CorefileError(
            f"port '{text}' in '{word.text}' is not valid: it must be between 1 and 65535",
            word.pos,
        )
    return int(text)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse_target(
    word: Word,
    ctx: BlockContext,
    *,
    allowed: Sequence[str] = ("dns", "tls", "https"),
    plugin: str = "forward",
) -> Target:
    """Read one TO: `[dns://|tls://|https://]HOST[:PORT]`, `tls://IP%NAME[:PORT]`, or a file."""
    transport, rest = _split_scheme(word, allowed, plugin)
    if "/" in rest:
        if transport != "dns":
            raise CorefileError(
                f"'{word.text}' has a path: write {transport}://ADDRESS[:PORT] without one",
                word.pos,
            )
        return ResolvConf(rest)
    server_name = None
    if transport == "tls" and "%" in rest:
        rest, server_name = _split_server_name(word, rest)
    host, port = _host_port(word, rest, DEFAULT_PORTS[transport])
    if _is_ip(host):
        return Upstream(host, port, transport, server_name)
    if not host or not _HOSTNAME.fullmatch(host) or not is_domain_name(host):
        raise CorefileError(
            f"'{word.text}' is not an IP address, a hostname or a file "
            "(write a file as /path or ./path)",
            word.pos,
        )
    if server_name is not None:
        raise CorefileError(
            f"'{word.text}': '%NAME' sets the TLS server name of an IP upstream; "
            "a hostname upstream uses its own name",
            word.pos,
        )
    if transport == "dns" and "://" not in word.text and host.endswith(".conf"):
        ctx.warn(
            word.pos,
            f"'{host}' is read as a hostname; if it is a resolv.conf-style file, "
            f"write it as ./{host}",
        )
    return Upstream(host.rstrip(".").lower(), port, transport, None, hostname=True)
