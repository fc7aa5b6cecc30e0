"""The journal of events this node admitted from its own RPC, so that a crash loses none.

As geth journals its local transactions: an answer of 202 promises the event will be
included, so its bytes are on disk before the answer leaves. Each record is appended
to one file (length, CRC-32, the event's bytes) and made durable by a group commit:
every submitter waiting at the same time shares one fsync, which is what lets a
node take over a thousand events a second on one disk. At the next start the node
re-admits the journal's events and rewrites it to those still waiting; the journal is
also rewritten that way whenever it has grown well past what is still waiting, so it
never holds much more than the mempool does.

A crash can tear the last record; reading stops at the first record that does not check.
"""

from __future__ import annotations

import asyncio
import os
import struct
import zlib
from pathlib import Path
from typing import Iterable

from storage.fsutil import PRIVATE_FILE_MODE, fsync_directory

_HEADER = struct.Struct(">II")
"""Length of the event's bytes, CRC-32 of them."""
MAX_RECORD_BYTES = 1 << 24
COMPACT_AT_BYTES = 16 * 1024 * 1024
"""The journal is rewritten once it is this large and four times what it held after its last rewrite."""


def encode_records(raws: Iterable[bytes]) -> bytes:
    return b"".join(_HEADER.pack(len(raw), zlib.crc32(raw)) + raw for raw in raws)


def decode_records(data: bytes) -> tuple[list[bytes], int]:
    """The whole records at the start of ``data``, and how many bytes they take."""
    raws, offset = [], 0
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        end = offset + _HEADER.size + length
        if length > MAX_RECORD_BYTES or end > len(data):
            break
        raw = data[offset + _HEADER.size : end]
        if zlib.crc32(raw) != crc:
            break
        raws.append(raw)
        offset = end
    return raws, offset


class EventJournal:
    """Append-only; ``append`` writes at once, ``wait_durable`` returns once all appended is fsynced."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd = -1
        self._size = 0
        self._compacted_size = 0
        self._written = 0
        """Appends made, counted; ``_synced`` of them are durable."""
        self._synced = 0
        self._syncing: asyncio.Future[None] | None = None
        self._retired: list[int] = []
        """Descriptors of files replaced by a compaction, closed once no fsync uses them."""

    def open(self) -> list[bytes]:
        """Open the journal and return the events in it, dropping a torn tail."""
        try:
            data = self._path.read_bytes()
        except FileNotFoundError:
            data = b""
        raws, valid = decode_records(data)
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE)
        os.fchmod(self._fd, PRIVATE_FILE_MODE)
        if valid < len(data):
            os.ftruncate(self._fd, valid)
            os.fsync(self._fd)
        self._size = self._compacted_size = valid
        return raws

    def close(self) -> None:
        self._close_retired()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def append(self, raws: list[bytes]) -> None:
        """Write records now (into the OS's cache); durable once ``wait_durable`` returns."""
        record = encode_records(raws)
        written = os.write(self._fd, record)
        if written != len(record):  # a full disk: drop the torn record so later ones still read
            os.ftruncate(self._fd, self._size)
            raise OSError(f"the event journal {self._path} is short of space")
        self._size += written
        self._written += 1

    async def wait_durable(self) -> None:
        """Return once every record appended so far is on disk; concurrent callers share one fsync."""
        target = self._written
        while self._synced < target:
            if self._syncing is not None:
                await asyncio.shield(self._syncing)
                continue
            self._syncing = asyncio.get_running_loop().create_future()
            covered = self._written
            try:
                await asyncio.to_thread(os.fsync, self._fd)
                self._synced = max(self._synced, covered)
            finally:
                done, self._syncing = self._syncing, None
                self._close_retired()
                done.set_result(None)

    def _close_retired(self) -> None:
        while self._retired:
            os.close(self._retired.pop())

    def needs_compaction(self) -> bool:
        return self._size >= COMPACT_AT_BYTES and self._size >= 4 * self._compacted_size

    def compact(self, waiting: list[bytes]) -> None:
        """Rewrite the journal to hold just ``waiting`` (the journaled events not yet in a block).

        Blocking, and on the event loop on purpose: no append may land in the old file
        between the rewrite and the rename. It writes only what still waits, so it is short.
        """
        temp = self._path.with_suffix(".compacting")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
        try:
            data = encode_records(waiting)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, self._path)
        fsync_directory(self._path.parent)
        # An fsync of the old file may be running in a thread: close it only after that.
        self._retired.append(self._fd)
        if self._syncing is None:
            self._close_retired()
        self._fd = os.open(self._path, os.O_WRONLY | os.O_APPEND)
        self._size = self._compacted_size = len(data)
        self._synced = self._written
