"""UDP in batches: recvmmsg(2) and sendmmsg(2) on Linux, so a busy listener pays two system
calls per batch of queries instead of two per query.

Each wake-up of the event loop reads up to `BATCH` datagrams with one recvmmsg into buffers
allocated once; every query the hot or fast path answers is copied into a send buffer, and the
batch's replies leave with one sendmmsg to the addresses they came from (the kernel's own
sockaddr bytes, never decoded for them). A query that needs the plugin chain is answered later
with an ordinary sendto. With one datagram in the socket this costs what the uvloop transport
costs; with a queue of them, much less (bench/cluster_dns.py). This module sets up the buffers
and makes the system calls; the loop over a batch is runtime/batch.py, compiled (setup.py).

Elsewhere (no recvmmsg in the C library), the listener keeps asyncio's datagram transport.
"""

from __future__ import annotations

import asyncio
import ctypes
import mmap
import socket
import sys
from typing import Any, Literal

import structlog

from kdns.runtime.batch import Batch, Layout
from kdns.runtime.dispatch import ZoneMux
from kdns.runtime.generation import ListenKey

log = structlog.get_logger("kdns.server")

#: Datagrams read per recvmmsg call, and the largest query read whole (a longer one is
#: answered FORMERR: no DNS query needs more).
BATCH = 32
SIZE = 4096
#: sizeof(struct sockaddr_in6), which holds an IPv4 sockaddr as well, and sizeof(sockaddr_in).
NAME = 28
SOCKADDR_IN = 16
MSG_DONTWAIT = 0x40


class _Iovec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [
        ("msg_name", ctypes.c_void_p),
        ("msg_namelen", ctypes.c_uint32),
        ("msg_iov", ctypes.POINTER(_Iovec)),
        ("msg_iovlen", ctypes.c_size_t),
        ("msg_control", ctypes.c_void_p),
        ("msg_controllen", ctypes.c_size_t),
        ("msg_flags", ctypes.c_int),
    ]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("msg_hdr", _Msghdr), ("msg_len", ctypes.c_uint)]


#: Where the fields the batch loop reads and writes sit: a memoryview item costs a third of a
#: ctypes field access.
_LAYOUT = Layout(
    words=ctypes.sizeof(_Mmsghdr) // 4,
    words64=ctypes.sizeof(_Mmsghdr) // 8,
    length=_Mmsghdr.msg_len.offset // 4,
    flags=_Msghdr.msg_flags.offset // 4,
    name=_Msghdr.msg_name.offset // 8,
    iov_words=ctypes.sizeof(_Iovec) // 8,
    iov_len=_Iovec.iov_len.offset // 8,
    size=SIZE,
    name_size=NAME,
)


def _words(array: ctypes.Array[Any], code: Literal["I", "Q"]) -> memoryview:
    """`array`'s memory as a flat view of unsigned words ("I" 32-bit, "Q" 64-bit)."""
    return memoryview(array).cast("B").cast(code)


def _libc() -> Any:
    """The C library's recvmmsg and sendmmsg, found among the process's own symbols (no
    ctypes.util: finding the library by name costs a megabyte of imports), or None."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    return libc if hasattr(libc, "recvmmsg") and hasattr(libc, "sendmmsg") else None


_LIBC = _libc()
#: Whether batched UDP is available here.
AVAILABLE = _LIBC is not None


class BatchUdp:
    """One UDP socket served in batches; quacks like the transport the listener keeps."""

    def __init__(
        self,
        sock: socket.socket,
        key: ListenKey,
        lookup: Any,
        tasks: set[asyncio.Task[None]],
    ) -> None:
        self.sock = sock
        self.key = key
        self.lookup = lookup
        self.tasks = tasks
        self.fd = sock.fileno()
        self.local: tuple[str, int] = sock.getsockname()[:2]
        self.v6 = sock.family == socket.AF_INET6
        self.loop: asyncio.AbstractEventLoop | None = None
        self.serving = False
        # anonymous mappings: a page takes memory only once a datagram has been written there
        self._maps = (mmap.mmap(-1, SIZE * BATCH), mmap.mmap(-1, SIZE * BATCH))
        self._in = (ctypes.c_char * (SIZE * BATCH)).from_buffer(self._maps[0])
        self._out = (ctypes.c_char * (SIZE * BATCH)).from_buffer(self._maps[1])
        self._namemap = mmap.mmap(-1, NAME * BATCH)
        self._names = (ctypes.c_char * (NAME * BATCH)).from_buffer(self._namemap)
        self._rmsgs = (_Mmsghdr * BATCH)()
        self._smsgs = (_Mmsghdr * BATCH)()
        self._riov = (_Iovec * BATCH)()
        self._siov = (_Iovec * BATCH)()
        names = ctypes.addressof(self._names)
        for i in range(BATCH):
            self._riov[i].iov_base = ctypes.addressof(self._in) + i * SIZE
            self._riov[i].iov_len = SIZE
            self._siov[i].iov_base = ctypes.addressof(self._out) + i * SIZE
            for msgs, iov in ((self._rmsgs, self._riov), (self._smsgs, self._siov)):
                hdr = msgs[i].msg_hdr
                hdr.msg_name = names + i * NAME
                hdr.msg_namelen = NAME
                hdr.msg_iov = ctypes.pointer(iov[i])
                hdr.msg_iovlen = 1
            # the kernel writes each address's length over the receive side's room for it:
            # always the socket family's sockaddr size, so that room stays enough, and every
            # reply goes to an address of that size
            self._smsgs[i].msg_hdr.msg_namelen = NAME if self.v6 else SOCKADDR_IN
        self._batch = Batch(
            (self._maps[0], self._maps[1], self._namemap),
            (_words(self._rmsgs, "I"), _words(self._smsgs, "Q"), _words(self._siov, "Q")),
            [names + i * NAME for i in range(BATCH)],
            _LAYOUT,
            self.v6,
            self._later,
        )

    def start(self) -> None:
        """Serve the socket from the running loop."""
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(self.fd, self._drain)
        self.serving = True

    def close(self) -> None:
        """Stop serving and close the socket."""
        if self.serving and self.loop is not None:
            self.loop.remove_reader(self.fd)
            self.serving = False
        self.sock.close()

    def get_extra_info(self, name: str, default: object = None) -> object:
        """The transport's `sockname`, as asyncio's transports give it."""
        return self.sock.getsockname() if name == "sockname" else default

    def _drain(self) -> None:
        """Read what the socket holds, a batch at a time, and answer it."""
        assert _LIBC is not None
        rmsgs, smsgs, batch = self._rmsgs, self._smsgs, self._batch
        while True:
            got = _LIBC.recvmmsg(self.fd, ctypes.byref(rmsgs), BATCH, MSG_DONTWAIT, None)
            if got <= 0:
                return
            mux: ZoneMux | None = self.lookup(self.key)
            try:
                sent = batch.answer(mux, got) if mux is not None else 0
                if sent:
                    _LIBC.sendmmsg(self.fd, ctypes.byref(smsgs), sent, 0)
            except Exception:  # never let one batch stop the listener (the paths it calls
                # catch their own errors; this is the last line of defence)
                log.exception("answering a UDP batch failed", server=str(self.key))
            finally:
                if batch.moved:
                    batch.put_back()
            if got < BATCH:
                return

    def _later(self, mux: ZoneMux, data: bytes, addr: tuple[Any, ...]) -> None:
        """Answer through the plugin chain; the reply goes out with sendto when it is ready."""
        sock = self.sock

        def send(wire: bytes) -> None:
            try:
                sock.sendto(wire, addr)
            except OSError as exc:  # a full send buffer: UDP may drop, as the kernel would
                log.debug("UDP reply dropped", error=str(exc))

        assert self.loop is not None
        remote = (addr[0], addr[1])
        task = self.loop.create_task(mux.handle(data, "udp", remote, self.local, send))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
