"""The sync server: blocks by height range or by hash, for peers catching up, and the
finality votes behind a block, for peers that did not see it justified."""

from __future__ import annotations

from typing import Callable

from protocol.votes import Checkpoint, Vote, encode_vote
from storage.chain import ChainStore

from . import messages
from .host import MAX_FRAME
from .traffic import Stream, TrafficCounters

FRAMING_ROOM = 64 * 1024

VotesBehind = Callable[[Checkpoint, int, int], list[Vote]]
"""``VotePool.votes_behind``: at most so many votes held for a block and its ancestors above a height."""


class SyncServer:
    def __init__(self, chain: ChainStore, votes_behind: VotesBehind, traffic: TrafficCounters | None = None) -> None:
        self._chain = chain
        self._votes_behind = votes_behind
        self._traffic = traffic if traffic is not None else TrafficCounters()

    async def serve(self, peer: str, request: bytes) -> bytes:
        """The blocks (or votes) asked for that this node has, as many as fit in one frame."""
        answer = self._answer(request)
        self._traffic.served(Stream.SYNC, request, answer)
        return answer

    def _answer(self, request: bytes) -> bytes:
        decoded = messages.decode_sync_request(request)
        if isinstance(decoded, messages.VotesBehind):
            target = Checkpoint(decoded.target_height, decoded.target_hash)
            found = self._votes_behind(target, decoded.above_height, messages.MAX_SYNC_VOTES)
            return messages.encode_votes([encode_vote(vote) for vote in found])
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
