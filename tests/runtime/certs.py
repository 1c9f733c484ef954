"""A throwaway certificate authority for TLS tests, made with the openssl command line.

EC P-256 keys keep it fast (tens of milliseconds for the whole set).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Certs:
    """The files of a test CA, a server certificate for 127.0.0.1 and localhost, and a client."""

    folder: Path
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    #: A client certificate signed by another CA: require_and_verify must refuse it.
    stranger_cert: Path
    stranger_key: Path


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def _authority(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subject = f"/CN={name}"
    _openssl("req", "-x509", *EC, "-days", "2", "-subj", subject, "-keyout", key, "-out", cert)
    return cert, key


def _issue(folder: Path, name: str, ca: tuple[Path, Path], extensions: str) -> tuple[Path, Path]:
    cert, key, csr = (folder / f"{name}{ext}" for ext in (".pem", ".key", ".csr"))
    ext = folder / f"{name}.ext"
    ext.write_text(extensions)
    _openssl("req", *EC, "-subj", f"/CN={name}", "-keyout", key, "-out", csr)
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
        "-days", "2", "-extfile", ext, "-out", cert,
    )  # fmt: skip
    return cert, key


def make_certs(folder: Path) -> Certs:
    """Create the CA, server, client and stranger files in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = _authority(folder, "kdns-test-ca")
    other = _authority(folder, "other-ca")
    server = _issue(
        folder,
        "server",
        ca,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    client = _issue(folder, "client", ca, "extendedKeyUsage=clientAuth\n")
    stranger = _issue(folder, "stranger", other, "extendedKeyUsage=clientAuth\n")
    return Certs(folder, ca[0], *server, *client, *stranger)
