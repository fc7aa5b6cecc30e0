"""Request/response frames are read whole, however many reads a stream needs for them."""

from __future__ import annotations

import pytest
import trio
from libp2p.io.msgio import VarIntLengthMsgReadWriter
from libp2p.utils.varint import encode_varint_prefixed

from node.p2p.host import MAX_FRAME
from node.p2p.streams import Frames, P2PError

PIECE = 64 * 1024
"""What a yamux stream yields per read at most."""


class ChunkedStream:
    """Serves ``data`` at most ``PIECE`` bytes per read, then end of stream."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self.reads = 0

    async def read(self, n: int | None = None) -> bytes:
        self.reads += 1
        size = min(PIECE, len(self._data) if n is None else n)
        piece, self._data = bytes(self._data[:size]), self._data[size:]
        return piece


def test_a_frame_needing_more_than_a_hundred_reads_arrives_whole() -> None:
    message = bytes(range(256)) * (8 * 1024 * 1024 // 256 - 1024)  # just under 8 MiB: ~127 reads
    stream = ChunkedStream(encode_varint_prefixed(message))
    assert trio.run(Frames(stream, MAX_FRAME).read_msg) == message
    assert stream.reads > 101
    # py-libp2p's own reader gives up after 100 reads: the reason Frames exists.
    with pytest.raises(Exception, match="expected"):
        trio.run(VarIntLengthMsgReadWriter(ChunkedStream(encode_varint_prefixed(message)), MAX_FRAME).read_msg)


def test_a_frame_cut_short_is_an_error() -> None:
    framed = encode_varint_prefixed(b"x" * 1000)[:500]
    with pytest.raises(P2PError, match="ended early"):
        trio.run(Frames(ChunkedStream(framed), MAX_FRAME).read_msg)
