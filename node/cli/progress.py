"""A one-line transfer progress bar on stderr (bytes, percent, MB/s), only on a terminal."""

from __future__ import annotations

import time
from typing import BinaryIO, TextIO

from .output import format_bytes

_REDRAW_SECONDS = 0.1
_BAR_WIDTH = 24


class Progress:
    """Counts bytes; redraws at most ten times a second so a fast upload is not slowed by the terminal."""

    def __init__(self, total: int, stream: TextIO, label: str, *, enabled: bool) -> None:
        self.total = total
        self.done = 0
        self._stream = stream
        self._label = label
        self._enabled = enabled
        self._started = time.monotonic()
        self._drawn_at = 0.0

    def advance(self, count: int) -> None:
        if not count:
            return  # the end-of-file read
        self.done += count
        now = time.monotonic()
        # The last byte is always drawn, at the moment it is sent: the node then still
        # hashes and probes the file, which must not count against the transfer rate.
        if self._enabled and (now - self._drawn_at >= _REDRAW_SECONDS or self.done >= self.total):
            self._drawn_at = now
            self._draw(now)

    def finish(self) -> None:
        if self._enabled and self._drawn_at:
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self, now: float) -> None:
        fraction = self.done / self.total if self.total else 1.0
        filled = int(fraction * _BAR_WIDTH)
        elapsed = max(now - self._started, 1e-6)
        rate = self.done / elapsed / 1e6
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        line = (
            f"{self._label} [{bar}] {fraction * 100:5.1f}%  "
            f"{format_bytes(self.done)} / {format_bytes(self.total)}  {rate:.1f} MB/s"
        )
        # \r and a clear-to-end-of-line so a shorter line leaves no debris.
        self._stream.write("\r" + line + "\x1b[K")
        self._stream.flush()


class CountingReader:
    """A read-only file wrapper that reports every read to a Progress (http.client reads the body through it)."""

    def __init__(self, file: BinaryIO, progress: Progress) -> None:
        self._file = file
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        self._progress.advance(len(data))
        return data
