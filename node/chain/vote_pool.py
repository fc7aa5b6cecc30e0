"""Finality votes this node has seen, on their way into the ledger's finality tracker.

Votes arrive from gossip (checked there: signature, voter), from this node's voter, and
from the RPC. The pool keeps only what can still matter and bounds the rest:

- a vote for a block at or below the final height is dropped (finality never goes back);
- a vote for a block not stored here is held a short while (its block may be on its way)
  and counted once the block arrives, else forgotten (it is checked against the voter's
  counted votes for evidence at once all the same);
- at most ``max_votes`` are counted at once (the tracker forgets votes below the final
  block as finality moves), and at most ``max_held`` wait for their block;
- two slashable votes by one voter become vote evidence: stored, and handed to listeners
  (the network gossips it);
- counted votes are kept in a ``VoteStore`` until finality passes them and counted again
  at start: an authority's own last vote forbids it a lower source after a restart, so
  the votes that justified its source must outlive the process.
"""

from __future__ import annotations

import enum
import logging
import time
from collections import OrderedDict
from typing import Callable

from protocol.errors import ProtocolError
from protocol.evidence import VoteEvidence
from protocol.votes import Checkpoint, Vote, encode_vote
from storage.votes import VoteStore

from .ledger import FinalityChange, HeadChange, Ledger

log = logging.getLogger("audiera.votes")

HOLD_S = 8.0
"""How long a vote for an unknown block waits for it."""
MAX_BLOCKS_BEHIND = 1024
"""Deepest ``votes_behind`` looks below the block asked about."""

VoteEvidenceListener = Callable[[VoteEvidence], None]


class VoteOutcome(enum.Enum):
    COUNTED = "counted"
    """New, and counted towards its link."""
    DUPLICATE = "duplicate"
    """Already counted."""
    HELD = "held"
    """Its target block is not here yet; counted once it arrives."""
    STALE = "stale"
    """Its target is at or below the final height, or it is not by an authority."""
    FULL = "full"
    """The pool holds as many votes as it may."""


class VotePool:
    def __init__(
        self,
        ledger: Ledger,
        store: VoteStore | None = None,
        *,
        max_votes: int = 20_000,
        max_held: int = 2_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``store``: where counted votes outlive a restart (None: in memory only)."""
        self._ledger = ledger
        self._store = store
        self._max_votes = max_votes
        self._max_held = max_held
        self._clock = clock
        self._held: OrderedDict[bytes, tuple[Vote, float]] = OrderedDict()
        self._evidence_listeners: list[VoteEvidenceListener] = []
        self._justified_listeners: list[Callable[[], object]] = []
        ledger.add_listener(self._on_head_change)
        ledger.add_finality_listener(self._on_finality_change)
        self._reload()

    def _reload(self) -> None:
        """Count again the votes kept before a restart (their signatures were checked when counted)."""
        if self._store is None:
            return
        self._store.prune(self._ledger.finalized.height)
        reloaded = 0
        try:
            for vote in self._store.votes_above(self._ledger.finalized.height):
                reloaded += self._count(vote, keep=False) is VoteOutcome.COUNTED
        except ProtocolError as exc:  # a damaged store: what it still had is counted, the rest comes again by gossip
            log.warning("stopped reloading kept votes at one that does not decode: %s", exc.message)
        if reloaded:
            log.info("counted %d vote(s) kept from before the restart; final block %d", reloaded, self._ledger.finalized.height)

    def on_evidence(self, listener: VoteEvidenceListener) -> None:
        self._evidence_listeners.append(listener)

    def on_justified(self, listener: Callable[[], object]) -> None:
        """Call ``listener`` when votes justify a block (fork choice may now prefer another branch)."""
        self._justified_listeners.append(listener)

    @property
    def held_count(self) -> int:
        return len(self._held)

    def add(self, vote: Vote) -> VoteOutcome:
        """Count a vote whose signature was checked (gossip validation, sync, the voter, or the RPC)."""
        return self._count(vote, keep=True)

    def _count(self, vote: Vote, *, keep: bool) -> VoteOutcome:
        ledger = self._ledger
        if vote.target_height <= ledger.finalized.height:
            return VoteOutcome.STALE
        if ledger.chain.block_meta(vote.target_hash) is None:
            # A vote for a block no one has (or has yet) can still be half of a double vote.
            for evidence in ledger.votes.evidence_against(vote):
                self.record_evidence(evidence)
            return self._hold(vote)
        authorities = ledger.authorities_for(vote.target)
        if authorities is not None and vote.voter not in authorities:
            return VoteOutcome.STALE
        if ledger.votes.has_vote(vote):
            return VoteOutcome.DUPLICATE
        if ledger.votes.vote_count() >= self._max_votes:
            return VoteOutcome.FULL
        update = ledger.votes.add_vote(vote)
        if keep and self._store is not None:
            # Kept before it can justify anything: a voter may build on what it justifies.
            self._store.put(vote)
        for evidence in update.evidence:
            self.record_evidence(evidence)
        ledger.settle(update)
        if update.justified and any(not ledger.chain.is_canonical(cp.hash, cp.height) for cp in update.justified):
            for listener in self._justified_listeners:
                listener()
        return VoteOutcome.COUNTED

    def record_evidence(self, evidence: VoteEvidence) -> bool:
        """Keep checked vote evidence (found here or gossiped); True if it is new."""
        if not self._ledger.chain.put_vote_evidence(evidence):
            return False
        log.warning(
            "vote evidence: %s signed a %s (targets %d and %d)",
            evidence.voter, evidence.offence.value.replace("_", " "), evidence.first.target_height, evidence.second.target_height,
        )
        for listener in self._evidence_listeners:
            listener(evidence)
        return True

    def votes_for(self, block_hash: bytes, height: int) -> list[Vote]:
        """The votes seen for a block (counted ones; a final block's may be forgotten)."""
        return self._ledger.votes.votes_for(Checkpoint(height, block_hash))

    def votes_behind(self, target: Checkpoint, above_height: int, limit: int) -> list[Vote]:
        """The votes held for ``target`` and its ancestors above ``above_height`` (the asking
        peer's final height), for a peer that has not seen ``target`` justified: lowest target
        first, at most ``limit``, those nearest ``target`` kept when there are more.

        The walk down the chain stops below the lowest target the tracker holds votes for,
        and after ``MAX_BLOCKS_BEHIND`` blocks, so an asker cannot make it read a long chain.
        """
        ledger = self._ledger
        lowest_held = min((link.target.height for link in ledger.votes.links()), default=None)
        if lowest_held is None:
            return []
        floor = max(above_height, lowest_held - 1, target.height - MAX_BLOCKS_BEHIND)
        found: list[Vote] = []
        current: Checkpoint | None = target if ledger.chain.block_meta(target.hash) is not None else None
        while current is not None and current.height > floor and len(found) < limit:
            found.extend(ledger.votes.votes_for(current)[: limit - len(found)])
            meta = ledger.chain.block_meta(current.hash)
            current = None if meta is None else Checkpoint(meta.height - 1, meta.parent)
        found.reverse()
        return found

    def _hold(self, vote: Vote) -> VoteOutcome:
        key = encode_vote(vote)
        if key in self._held:
            return VoteOutcome.DUPLICATE
        self._expire()
        if len(self._held) >= self._max_held:
            return VoteOutcome.FULL
        self._held[key] = (vote, self._clock() + HOLD_S)
        return VoteOutcome.HELD

    def _expire(self) -> None:
        now = self._clock()
        while self._held:
            key, (_, deadline) = next(iter(self._held.items()))
            if deadline > now:
                break
            self._held.popitem(last=False)

    def retry_held(self) -> None:
        """Count held votes whose block has arrived (after a head change or a side block)."""
        self._expire()
        chain = self._ledger.chain
        ready = [key for key, (vote, _) in self._held.items() if chain.block_meta(vote.target_hash) is not None]
        for key in ready:
            vote, _ = self._held.pop(key)
            self.add(vote)

    def _on_head_change(self, change: HeadChange) -> None:
        self.retry_held()

    def _on_finality_change(self, change: FinalityChange) -> None:
        if self._store is not None:
            self._store.prune(change.final.height)
        self._held = OrderedDict(
            (key, entry) for key, entry in self._held.items() if entry[0].target_height > change.final.height
        )
