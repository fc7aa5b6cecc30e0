"""The node's view of its chain: the head, what is final, and the two ways the head moves.

It wraps the ChainStore with the consensus facts that depend on recent history (the
authority set, recent proposers, finality) and tells listeners about every head change:
one block appended, or a reorg that reverts some blocks and applies others.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Callable

from protocol.authorities import get_authorities
from protocol.blocks import Block
from protocol.consensus import BranchHead, finality_threshold, finalized_height, fork_choice_key
from protocol.genesis import Genesis
from protocol.state import BlockResult
from storage.chain import AppliedBlock, ChainStore, ChainTip


@dataclass(frozen=True)
class HeadChange:
    applied: tuple[Block, ...]
    """Blocks now canonical, oldest first."""
    reverted: tuple[Block, ...] = ()
    """Blocks no longer canonical, the old head first (empty unless this was a reorg)."""


HeadListener = Callable[[HeadChange], None]


@dataclass(frozen=True)
class FinalityChange:
    previous: ChainTip
    """The final tip before."""
    final: ChainTip
    """The final tip now: higher than ``previous``, on its chain."""


FinalityListener = Callable[[FinalityChange], None]


class Ledger:
    def __init__(self, chain: ChainStore, genesis: Genesis) -> None:
        self.chain = chain
        self.genesis = genesis
        self.head: ChainTip = chain.init_genesis(genesis)
        self.finalized: ChainTip = chain.finalized()
        self.authorities: tuple[str, ...] = ()
        """The authority set that signs the block after the head (read from the head's state)."""
        self.head_difficulty = 0
        """Total difficulty of the head."""
        self._listeners: list[HeadListener] = []
        self._finality_listeners: list[FinalityListener] = []
        self._head_changed = asyncio.Event()
        self._recent: deque[tuple[int, str]] = deque()
        self._reload()

    def _reload(self) -> None:
        self.authorities = get_authorities(self.chain)
        meta = self.chain.block_meta(self.head.hash)
        self.head_difficulty = meta.total_difficulty if meta else 0
        depth = 4 * len(self.authorities) + 8
        self._recent = deque(maxlen=depth)
        for _, block_hash in self.chain.iter_canonical(max(1, self.head.height - depth + 1), self.head.height + 1):
            found = self.chain.get_header_and_event_ids(block_hash)
            if found is not None:
                self._recent.append((found[0].height, found[0].proposer))

    def recent_proposers(self) -> list[str]:
        """Proposers of the head and its recent ancestors, newest first."""
        return [proposer for _, proposer in reversed(self._recent)]

    def head_branch(self) -> BranchHead:
        proposer = self._recent[-1][1] if self._recent else ""
        return BranchHead(self.head_difficulty, self.head.height, proposer, self.head.hash)

    def prefers(self, candidate: BranchHead) -> bool:
        """Whether fork choice puts ``candidate`` above the current head."""
        return fork_choice_key(candidate, self.authorities) > fork_choice_key(self.head_branch(), self.authorities)

    def add_listener(self, listener: HeadListener) -> None:
        self._listeners.append(listener)

    def add_finality_listener(self, listener: FinalityListener) -> None:
        """``listener`` hears every advance of the final tip, after the head listeners of the same change."""
        self._finality_listeners.append(listener)

    def append(self, block: Block, result: BlockResult) -> ChainTip:
        """Commit a block on the head, then advance finality and tell listeners."""
        recent = [(block.height, block.header.proposer), *reversed(self._recent)]
        self.head = self.chain.commit_block(block, result, finalized_height=self._final_height(recent))
        self._recent.append((block.height, block.header.proposer))
        self.head_difficulty += block.header.difficulty
        self.authorities = get_authorities(self.chain)
        self._after(HeadChange(applied=(block,)))
        return self.head

    def switch(self, revert: list[Block], apply: list[AppliedBlock]) -> ChainTip:
        """Reorg: revert ``revert`` (head first) and apply ``apply`` (oldest first) in one write."""
        kept = [entry for entry in reversed(self._recent) if entry[0] <= apply[0].block.height - 1]
        recent = [(applied.block.height, applied.block.header.proposer) for applied in reversed(apply)] + kept
        self.head = self.chain.switch_branch(revert, apply, finalized_height=self._final_height(recent))
        self._reload()
        self._after(HeadChange(applied=tuple(a.block for a in apply), reverted=tuple(revert)))
        return self.head

    def _final_height(self, recent_newest_first: list[tuple[int, str]]) -> int:
        threshold = finality_threshold(len(self.authorities))
        final = finalized_height(recent_newest_first, threshold)
        return self.finalized.height if final is None else max(final, self.finalized.height)

    def _after(self, change: HeadChange) -> None:
        previous = self.finalized
        self.finalized = self.chain.finalized()
        for listener in self._listeners:
            listener(change)
        if self.finalized.height > previous.height:
            for finality_listener in self._finality_listeners:
                finality_listener(FinalityChange(previous=previous, final=self.finalized))
        self._head_changed.set()
        self._head_changed = asyncio.Event()

    async def wait_for_new_head(self) -> None:
        await self._head_changed.wait()

    def is_final(self, height: int) -> bool:
        """Whether the canonical block at ``height`` is final."""
        return height <= self.finalized.height

    def is_final_block(self, block_hash: bytes, height: int) -> bool:
        """Whether this block is final: canonical, and at or below the final height (a side block never is)."""
        return self.is_final(height) and self.chain.hash_at(height) == block_hash
