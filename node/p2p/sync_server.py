"""The sync server: blocks by height range or by hash, for peers catching up."""

from __future__ import annotations

from storage.chain import ChainStore

from . import messages
from .host import MAX_FRAME
from .traffic import Stream, TrafficCounters

FRAMING_ROOM = 64 * 1024


class SyncServer:
    def __init__(self, chain: ChainStore, traffic: TrafficCounters | None = None) -> None:
        self._chain = chain
        self._traffic = traffic if traffic is not None else TrafficCounters()

    async def serve(self, peer: str, request: bytes) -> bytes:
        """The blocks asked for that this node has, as many as fit in one frame."""
        answer = self._answer(request)
        self._traffic.served(Stream.SYNC, request, answer)
        return answer

    def _answer(self, request: bytes) -> bytes:
        decoded = messages.decode_sync_request(request)
        chain = self._chain
        raw_blocks: list[bytes] = []
        if isinstance(decoded, messages.BlockByHash):
            raw = chain.get_block_raw(decoded.hash)
            raw_blocks = [raw] if raw is not None else []
        else:
            budget = MAX_FRAME - FRAMING_ROOM
            stop = decoded.start + decoded.count
            for _, block_hash in chain.iter_canonical(decoded.start, stop):
                raw = chain.get_block_raw(block_hash)
                if raw is None or budget - len(raw) < 0:
                    break
                budget -= len(raw) + 8
                raw_blocks.append(raw)
        return messages.encode_blocks(raw_blocks)
