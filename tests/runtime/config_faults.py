"""Corefile faults on a ConfigMap-style folder: a kdns serving it, and what can go wrong.

Shared by tests/runtime/test_config_faults.py and bench/faults_config.py (which loads it by
path: tests are not a package). `Served` starts `kdns -conf` on the folder, unprivileged when
we are root (so that `chmod 000` really blocks reads), keeps its log lines and publishes good
Corefiles the way the kubelet does; `FAULTS` are the injections and the error each must log.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import dns.asyncquery
import dns.exception
import dns.message

from kdns.runtime.configmap import write_configmap
from kdns.runtime.testing import start_kdns

#: Serves changed.test as 10.0.VERSION.1, so an answer names the configuration it came from.
COREFILE = """\
.:{port} {{
    hosts {{
        10.0.{version}.1 changed.test
        fallthrough
    }}
    whoami
    reload 2s
}}
"""


class Served:
    """A kdns subprocess serving a ConfigMap-style folder, and the lines it has logged."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self.lines: list[str] = []
        self.version = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def proc(self) -> asyncio.subprocess.Process:
        """The kdns process (after `start`)."""
        assert self._proc is not None, "not started"
        return self._proc

    @property
    def target(self) -> Path:
        """The real file behind the `Corefile` symlink (what a non-atomic writer edits)."""
        return self.folder / os.readlink(self.folder / "..data") / "Corefile"

    def publish(self, version: int) -> None:
        """Publish a good Corefile the way the kubelet does."""
        self.version = version
        link = self.folder / "Corefile"
        if link.is_symlink() and os.readlink(link) != "..data/Corefile":
            link.unlink()  # a fault re-pointed the key's link
        write_configmap(self.folder, {"Corefile": COREFILE.format(port=self.port, version=version)})

    async def start(self) -> None:
        """Start kdns on the folder, unprivileged when we are root."""
        self._proc = await start_kdns(
            "-conf",
            str(self.folder / "Corefile"),
            unprivileged=True,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._collect())

    async def stop(self) -> None:
        """SIGTERM kdns (if it runs) and wait for it and its log."""
        if self._proc is not None and self._proc.returncode is None:
            self._proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self._proc.wait(), 20)
        if self._reader is not None:
            await self._reader

    async def _collect(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    async def address(self, timeout: float = 1.0) -> str | None:
        """Return the address served for changed.test (None: no answer in time)."""
        query = dns.message.make_query("changed.test", "A")
        try:
            reply = await dns.asyncquery.udp(query, "127.0.0.1", port=self.port, timeout=timeout)
        except dns.exception.Timeout:
            return None
        return reply.answer[0][0].address if reply.answer else None

    async def wait_address(self, want: str, within: float = 10.0) -> None:
        """Wait until changed.test answers `want`."""
        deadline = time.monotonic() + within
        while await self.address(0.3) != want:
            assert time.monotonic() < deadline, f"changed.test never became {want}"
            await asyncio.sleep(0.02)

    async def wait_line(self, pattern: str, after: int, within: float = 10.0) -> str:
        """Wait for a log line matching `pattern` among the lines from index `after` on."""
        deadline = time.monotonic() + within
        while True:
            for line in self.lines[after:]:
                if re.search(pattern, line):
                    return line
            assert self.proc.returncode is None, "kdns exited"
            assert time.monotonic() < deadline, f"no line like {pattern!r} in {self.lines[after:]}"
            await asyncio.sleep(0.02)


def _delete(k: Served) -> None:
    (k.folder / "Corefile").unlink()  # `rm Corefile`


def _dangling(k: Served) -> None:
    link = k.folder / "Corefile"
    link.unlink()
    link.symlink_to("..data/nowhere")


def _directory(k: Served) -> None:
    target = k.target
    target.unlink()
    target.mkdir()


def _unreadable(k: Served) -> None:
    k.target.chmod(0)


def _truncated(k: Served) -> None:
    text = COREFILE.format(port=k.port, version=k.version % 250 + 1)
    k.target.write_text(text[: text.index("fallthrough")])  # cut inside the hosts block


def _binary(k: Served) -> None:
    k.target.write_bytes(b".:53 {\n    wh\xffami\n}\n")


def _garbage_text(k: Served) -> None:
    k.target.write_text("<html>\n  <body>404 Not Found</body>\n</html>\n")


def _emptied(k: Served) -> None:
    k.target.write_text("")


#: fault -> (what it does to the folder, the file:line:col error it must log)
FAULTS: dict[str, tuple[Callable[[Served], None], str]] = {
    "deleted": (_delete, r"Corefile:0:0: error: cannot read the Corefile: No such file"),
    "dangling symlink": (_dangling, r"Corefile:0:0: error: cannot read the Corefile: No such"),
    "directory": (_directory, r"Corefile:0:0: error: cannot read the Corefile: Is a directory"),
    "unreadable": (_unreadable, r"Corefile:0:0: error: cannot read the Corefile: Permission"),
    "truncated": (_truncated, r"Corefile:2:11: error: unexpected end of file"),
    "binary": (_binary, r"Corefile:2:7: error: the Corefile is not UTF-8 text \(byte 0xff\)"),
    "garbage": (_garbage_text, r"Corefile:\d+:\d+: error: "),
    "emptied": (_emptied, r"Corefile:1:1: error: no server block; keeping the running"),
}
