"""The loop of batched UDP (mmsg.py): one batch of received datagrams answered from the hot and
fast paths into the send buffers.

A module of its own, without ctypes, so that the compiled build (setup.py) makes it native
(mypyc's output does not build with a ctypes import): mmsg.py sets the buffers up and makes the
system calls; this reads the queries and writes the replies, through mmaps (whose slices are
bytes) and word views of the mmsghdr and iovec arrays.
"""

from __future__ import annotations

import mmap
import socket
import sys
from collections.abc import Callable
from typing import Any, Final

from kdns.plugins.base import FORMERR
from kdns.runtime.dispatch import ZoneMux, error_reply

#: Client addresses kept as text; past it, the table starts again.
TEXTS: Final = 4096
MSG_TRUNC: Final = 0x20


class Layout:
    """Where the fields the loop reads and writes sit, in words of the mmsghdr arrays (32-bit
    for msg_len and msg_flags, 64-bit for msg_name) and of the iovec array (64-bit), and the
    sizes of a datagram's buffer and of its address's room (mmsg.py finds them with ctypes)."""

    __slots__ = (
        "flags",
        "iov_len",
        "iov_words",
        "length",
        "name",
        "name_size",
        "size",
        "words",
        "words64",
    )

    def __init__(
        self,
        words: int,
        words64: int,
        length: int,
        flags: int,
        name: int,
        iov_words: int,
        iov_len: int,
        size: int,
        name_size: int,
    ) -> None:
        self.words = words
        self.words64 = words64
        self.length = length
        self.flags = flags
        self.name = name
        self.iov_words = iov_words
        self.iov_len = iov_len
        self.size = size
        self.name_size = name_size


class Batch:
    """One batched socket's buffers, as the loop reads queries and writes replies there."""

    def __init__(
        self,
        maps: tuple[mmap.mmap, mmap.mmap, mmap.mmap],
        words: tuple[memoryview, memoryview, memoryview],
        names_at: list[int],
        layout: Layout,
        v6: bool,
        later: Callable[[ZoneMux, bytes, tuple[Any, ...]], None],
    ) -> None:
        #: Received datagrams, replies, and the addresses (sockaddr) the datagrams came from.
        self.inmap, self.outmap, self.names = maps
        #: The receive headers (32-bit words), the send headers and the send iovecs (64-bit).
        self.r32, self.s64, self.siov64 = words
        #: Where each datagram's address sits in memory (a send header points at one).
        self.names_at = names_at
        self.layout = layout
        self.v6 = v6
        #: Answers a datagram through the plugin chain (mmsg.py sends that reply itself).
        self.later = later
        #: Whether a send header points at another datagram's address than its own (a batch
        #: where some query went to the chain): put back after the send.
        self.moved = False
        #: Client addresses as text, by their bytes: clients are few, decoding costs more.
        self.texts: dict[bytes, str] = {}

    def answer(self, mux: ZoneMux, got: int) -> int:
        """Answer `got` datagrams; fill the send batch with the immediate replies; return
        how many it holds."""
        at = self.layout
        inmap, outmap, siov64 = self.inmap, self.outmap, self.siov64
        hot = mux.hot_udp if mux.fast_enabled else None
        v6, size, words = self.v6, at.size, at.words
        sent = 0
        # the datagrams' lengths in one read
        lengths: list[int] = self.r32[at.length : got * words : words].tolist()
        for i, length in enumerate(lengths):
            start = i * size
            data = inmap[start : start + length]
            reply = hot.answer(data, v6) if hot is not None else None
            if reply is None:
                if length == size and self.r32[i * words + at.flags] & MSG_TRUNC:
                    reply = error_reply(data, FORMERR)
                    if reply is None:
                        continue
                else:
                    remote = self.remote(i)
                    reply = mux.fast_cold(data, "udp", remote)
                    if reply is None:
                        self.later(mux, data, self.sender(i, remote))
                        continue
            n, out = len(reply), sent * size
            outmap[out : out + n] = reply
            siov64[sent * at.iov_words + at.iov_len] = n
            if sent != i:  # an earlier one went to the chain: this reply takes its place
                self.s64[sent * at.words64 + at.name] = self.names_at[i]
                self.moved = True
            sent += 1
        return sent

    def put_back(self) -> None:
        """Point every send header at its own datagram's address again."""
        at = self.layout
        for i, address in enumerate(self.names_at):
            self.s64[i * at.words64 + at.name] = address
        self.moved = False

    def remote(self, i: int) -> tuple[str, int]:
        """The address and port datagram `i` of the batch came from."""
        names, at = self.names, i * self.layout.name_size
        raw = names[at + 8 : at + 24] if self.v6 else names[at + 4 : at + 8]
        text = self.texts.get(raw)
        if text is None:
            if len(self.texts) >= TEXTS:
                self.texts.clear()
            family = socket.AF_INET6 if self.v6 else socket.AF_INET
            text = self.texts[raw] = socket.inet_ntop(family, raw)
        return text, (names[at + 2] << 8) | names[at + 3]

    def sender(self, i: int, address: tuple[str, int]) -> tuple[Any, ...]:
        """The address datagram `i` of the batch came from (`address`: its `remote`), as
        `sendto` takes it."""
        if not self.v6:
            return address
        names, at = self.names, i * self.layout.name_size
        flow = int.from_bytes(names[at + 4 : at + 8], "big")
        scope = int.from_bytes(names[at + 24 : at + 28], sys.byteorder)
        return (*address, flow, scope)
