"""The chain a block's justifications are checked against, read from the store.

``protocol.transition.FinalityContext`` asks for the hash and the authority set at heights
of the new block's own chain: canonical blocks up to a fork point, then the blocks of the
branch being validated (not stored as canonical yet).
"""

from __future__ import annotations

from typing import Callable

from protocol.blocks import Block
from protocol.errors import InvalidBlock
from protocol.finality import HeaderFinality
from protocol.votes import Checkpoint
from protocol.transition import FinalityContext
from storage.chain import ChainStore, ChainTip


def canonical_finality(chain: ChainStore, head: ChainTip, next_authorities: tuple[str, ...]) -> FinalityContext:
    """The finality context for a block on the canonical head (``next_authorities``: the head's state's set)."""
    record = chain.block_finality(head.hash)
    if record is None:
        raise InvalidBlock(f"the head {head.height} has no finality record; the store is damaged")
    view = BranchView(chain, head.height)
    return FinalityContext(record.finality, view.hash_at, view.authorities_at_fn(next_authorities), view.carried_justified)


class BranchView:
    """A chain as justification checks read it: canonical up to ``fork_height``, then the blocks added."""

    def __init__(self, chain: ChainStore, fork_height: int) -> None:
        self._chain = chain
        self._fork_height = fork_height
        self._hashes: dict[int, bytes] = {}
        self._next_authorities: dict[int, tuple[str, ...]] = {}
        self._finality: dict[int, HeaderFinality] = {}

    def add(self, block: Block, next_authorities: tuple[str, ...], finality: HeaderFinality) -> None:
        self._hashes[block.height] = block.hash
        self._next_authorities[block.height] = next_authorities
        self._finality[block.height] = finality

    def carried_justified(self, checkpoint: Checkpoint) -> bool:
        """Whether a header of this chain showed ``checkpoint`` justified.

        Walks down from the tip while the headers' justified block is at least as high:
        carried justification only rises along a chain, so below that it cannot appear.
        """
        height = max(self._hashes, default=self._fork_height)
        while height > checkpoint.height:
            finality = self._finality_at(height)
            if finality is None or finality.justified.height < checkpoint.height:
                return False
            if finality.justified == checkpoint:
                return True
            height -= 1
        return False

    def _finality_at(self, height: int) -> HeaderFinality | None:
        if height in self._finality:
            return self._finality[height]
        block_hash = self.hash_at(height)
        record = self._chain.block_finality(block_hash) if block_hash is not None else None
        return record.finality if record is not None else None

    def hash_at(self, height: int) -> bytes | None:
        if height <= self._fork_height:
            return self._chain.hash_at(height)
        return self._hashes.get(height)

    def authorities_at_fn(self, tip_next: tuple[str, ...]) -> Callable[[int], tuple[str, ...]]:
        """``authorities_at(h)`` for a block built on this view's tip, whose state's set is ``tip_next``."""
        tip_height = max(self._hashes, default=self._fork_height)

        def authorities_at(height: int) -> tuple[str, ...]:
            parent_height = height - 1
            if parent_height >= tip_height:
                return tip_next
            if parent_height in self._next_authorities:
                return self._next_authorities[parent_height]
            parent_hash = self.hash_at(parent_height)
            record = self._chain.block_finality(parent_hash) if parent_hash is not None else None
            if record is None:
                raise InvalidBlock(f"block {parent_height} has no finality record; the store is damaged")
            return record.next_authorities

        return authorities_at
