"""The node's view of its chain: the head, what is final, and the two ways the head moves.

It wraps the ChainStore with the consensus facts that depend on recent history (the
authority set, recent proposers, vote finality) and tells listeners about every head
change (one block appended, or a reorg that reverts some blocks and applies others) and
every finality change. Finality moves only through ``finalize``, by the one rule of
``protocol.finality``: the tracker here counts the votes carried in headers and the votes
the vote pool hands in from gossip.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Callable, Sequence

from protocol.authorities import get_authorities
from protocol.blocks import Block
from protocol.consensus import BranchHead, fork_choice_key
from protocol.finality import MAX_JUSTIFICATIONS, FinalityTracker, FinalityUpdate, HeaderFinality, quorum
from protocol.genesis import Genesis
from protocol.state import BlockResult
from protocol.votes import Checkpoint, Justification, justification_from_votes
from storage.chain import AppliedBlock, ChainStore, ChainTip

from .finality_context import BranchView

log = logging.getLogger("audiera.ledger")

_AUTHORITY_LOOKBACK = 64
"""How far back an unvalidated side block's authority set is looked for (see ``authorities_for``)."""


@dataclass(frozen=True)
class HeadChange:
    applied: tuple[Block, ...]
    """Blocks now canonical, oldest first."""
    reverted: tuple[Block, ...] = ()
    """Blocks no longer canonical, the old head first (empty unless this was a reorg)."""


@dataclass(frozen=True)
class FinalityChange:
    previous: ChainTip
    """The final block before."""
    final: ChainTip
    """The final block now (higher; everything up to it on the canonical chain is final)."""


HeadListener = Callable[[HeadChange], None]
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
        self.votes = FinalityTracker(Checkpoint(0, genesis.hash), self._parent_checkpoint, self.authorities_for)
        """Node-local justification and finality (votes from headers and gossip)."""
        final = Checkpoint(self.finalized.height, self.finalized.hash)
        self.votes.add_header_finality(HeaderFinality(justified=final, final=final))
        self._take_header_finality(self.head.hash)
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

    # --- the chain as votes see it ---------------------------------------------------------

    def _parent_checkpoint(self, block_hash: bytes) -> Checkpoint | None:
        meta = self.chain.block_meta(block_hash)
        if meta is None or meta.height == 0:
            return None
        return Checkpoint(meta.height - 1, meta.parent)

    def authorities_for(self, target: Checkpoint) -> Sequence[str] | None:
        """The authority set that signs (and votes on) ``target``: the set after its parent.

        For a side block not validated yet its parent has no record: the set of its nearest
        validated ancestor stands in (a vote changes the set rarely; the branch is checked
        in full, on its own state, before it is switched to). None if the block is unknown.
        """
        meta = self.chain.block_meta(target.hash)
        if meta is None or meta.height == 0:
            return None
        current = meta.parent
        for _ in range(_AUTHORITY_LOOKBACK):
            record = self.chain.block_finality(current)
            if record is not None:
                return record.next_authorities
            parent = self.chain.block_meta(current)
            if parent is None:
                return None
            current = parent.parent
        return None

    def justified_on(self, block_hash: bytes, height: int) -> Checkpoint:
        """The highest justified block that is this block or one of its ancestors."""
        return self.votes.highest_justified_on(Checkpoint(height, block_hash))

    def head_finality(self) -> HeaderFinality:
        """What the head's chain of headers carries (the producer builds on it)."""
        record = self.chain.block_finality(self.head.hash)
        if record is None:  # every canonical block has one; only a damaged store lacks it
            genesis = Checkpoint(0, self.genesis.hash)
            return HeaderFinality(genesis, genesis)
        return record.finality

    def pending_justifications(self) -> tuple[Justification, ...]:
        """Quorums of votes for the head's chain that its headers do not carry yet, in the order
        a header must carry them: each from a block the headers showed justified (or one
        justified earlier in the list), each to a higher target."""
        latest = self.head_finality().justified
        shown = BranchView(self.chain, self.head.height)
        added: set[Checkpoint] = set()
        found: list[Justification] = []
        while len(found) < MAX_JUSTIFICATIONS:
            best = None
            for link in self.votes.links():
                target, source = link.target, link.source
                if target.height <= latest.height or target.height > self.head.height or self.chain.hash_at(target.height) != target.hash:
                    continue
                if source != latest and source not in added and not (
                    self.chain.hash_at(source.height) == source.hash and shown.carried_justified(source)
                ):
                    continue
                authorities = self.authorities_for(target) or ()
                votes = [vote for vote in self.votes.link_votes(link) if vote.voter in authorities]
                if authorities and len(votes) >= quorum(len(authorities)) and (best is None or target.height > best[0].height):
                    best = (target, votes)
            if best is None:
                break
            found.append(justification_from_votes(best[1]))
            latest = best[0]
            added.add(latest)
        return tuple(found)

    # --- fork choice -----------------------------------------------------------------------

    def recent_proposers(self) -> list[str]:
        """Proposers of the head and its recent ancestors, newest first."""
        return [proposer for _, proposer in reversed(self._recent)]

    def head_branch(self) -> BranchHead:
        proposer = self._recent[-1][1] if self._recent else ""
        justified = self.justified_on(self.head.hash, self.head.height).height
        return BranchHead(self.head_difficulty, self.head.height, proposer, self.head.hash, justified)

    def branch(self, total_difficulty: int, height: int, proposer: str, block_hash: bytes) -> BranchHead:
        """A branch head as fork choice weighs it (with the highest justified block it holds)."""
        return BranchHead(total_difficulty, height, proposer, block_hash, self.justified_on(block_hash, height).height)

    def prefers(self, candidate: BranchHead) -> bool:
        """Whether fork choice puts ``candidate`` above the current head."""
        return fork_choice_key(candidate, self.authorities) > fork_choice_key(self.head_branch(), self.authorities)

    # --- the head moves ----------------------------------------------------------------------

    def add_listener(self, listener: HeadListener) -> None:
        self._listeners.append(listener)

    def add_finality_listener(self, listener: FinalityListener) -> None:
        self._finality_listeners.append(listener)

    def append(self, block: Block, result: BlockResult) -> ChainTip:
        """Commit a block on the head, then tell listeners and advance finality."""
        self.head = self.chain.commit_block(block, result)
        self._recent.append((block.height, block.header.proposer))
        self.head_difficulty += block.header.difficulty
        self.authorities = get_authorities(self.chain)
        self._after(HeadChange(applied=(block,)))
        return self.head

    def switch(self, revert: list[Block], apply: list[AppliedBlock]) -> ChainTip:
        """Reorg: revert ``revert`` (head first) and apply ``apply`` (oldest first) in one write."""
        self.head = self.chain.switch_branch(revert, apply)
        self._reload()
        self._after(HeadChange(applied=tuple(a.block for a in apply), reverted=tuple(revert)))
        return self.head

    def _after(self, change: HeadChange) -> None:
        for listener in self._listeners:
            listener(change)
        self._head_changed.set()
        self._head_changed = asyncio.Event()
        self._take_header_finality(self.head.hash)

    def _take_header_finality(self, block_hash: bytes) -> None:
        record = self.chain.block_finality(block_hash)
        if record is not None:
            self.settle(self.votes.add_header_finality(record.finality))
        else:
            self.settle(self.votes.settle())

    async def wait_for_new_head(self) -> None:
        await self._head_changed.wait()

    # --- finality ----------------------------------------------------------------------------

    def settle(self, update: FinalityUpdate | None = None) -> None:
        """Move the final block to what the vote tracker now shows, where the head's chain has it."""
        if update is not None and update.justified:
            log.debug("justified: %s", ", ".join(cp.describe() for cp in update.justified))
        self.finalize(self.votes.final)

    def finalize(self, tip: Checkpoint) -> bool:
        """Make ``tip`` the final block if it is higher than the current one and canonical; True if it moved.

        A final block off the canonical chain (its branch is not ours yet) waits: fork choice
        prefers the branch holding the higher justified block, so the head moves there first.
        """
        if tip.height <= self.finalized.height or self.chain.hash_at(tip.height) != tip.hash:
            return False
        previous = self.finalized
        self.finalized = self.chain.set_finalized(tip.hash)
        # Votes the head's headers do not carry yet are kept, so a header can still carry them.
        self.votes.prune(below_height=min(self.finalized.height, self.head_finality().justified.height))
        change = FinalityChange(previous, self.finalized)
        for listener in self._finality_listeners:
            listener(change)
        return True

    def is_final(self, height: int) -> bool:
        """Whether the canonical block at ``height`` is final."""
        return height <= self.finalized.height

    def is_final_block(self, block_hash: bytes, height: int) -> bool:
        """Whether this block is final: canonical, and at or below the final height (a side block never is)."""
        return self.is_final(height) and self.chain.hash_at(height) == block_hash
