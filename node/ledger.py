"""The node's view of its chain: the head, what is final, and one way to append a block.

It wraps the ChainStore with the consensus facts that depend on recent history
(finality) and tells listeners about each new head.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Callable

from protocol.blocks import Block
from protocol.consensus import finality_threshold, finalized_height
from protocol.genesis import Genesis
from protocol.state import BlockResult
from storage.chain import ChainStore, ChainTip

HeadListener = Callable[[Block], None]


class Ledger:
    def __init__(self, chain: ChainStore, genesis: Genesis) -> None:
        self.chain = chain
        self.genesis = genesis
        self.head: ChainTip = chain.init_genesis(genesis)
        self.finalized: ChainTip = chain.finalized()
        self._listeners: list[HeadListener] = []
        self._head_changed = asyncio.Event()
        self._recent: deque[tuple[int, str]] = deque(maxlen=4 * len(genesis.authorities) + 8)
        self._load_recent()

    def _load_recent(self) -> None:
        start = max(1, self.head.height - self._recent.maxlen + 1)  # type: ignore[operator]
        for _, block_hash in self.chain.iter_canonical(start, self.head.height + 1):
            block = self.chain.get_block(block_hash)
            if block is not None:
                self._recent.append((block.height, block.header.proposer))

    def authorities_at(self, height: int) -> tuple[str, ...]:
        """The authority set that signs ``height`` (fixed by genesis until authority votes land)."""
        return self.genesis.authorities

    def recent_proposers(self) -> list[str]:
        """Proposers of the head and its recent ancestors, newest first."""
        return [proposer for _, proposer in reversed(self._recent)]

    def add_listener(self, listener: HeadListener) -> None:
        self._listeners.append(listener)

    def append(self, block: Block, result: BlockResult) -> ChainTip:
        """Commit a block on the head, then advance finality and tell listeners."""
        recent = [(block.height, block.header.proposer), *reversed(self._recent)]
        threshold = finality_threshold(len(self.authorities_at(block.height)))
        final = finalized_height(recent, threshold)
        final_height = self.finalized.height if final is None else max(final, self.finalized.height)
        self.head = self.chain.commit_block(block, result, finalized_height=final_height)
        self._recent.append((block.height, block.header.proposer))
        self.finalized = self.chain.finalized()
        for listener in self._listeners:
            listener(block)
        self._head_changed.set()
        self._head_changed = asyncio.Event()
        return self.head

    async def wait_for_new_head(self) -> None:
        await self._head_changed.wait()

    def is_final(self, height: int) -> bool:
        return height <= self.finalized.height
