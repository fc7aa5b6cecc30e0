"""One simulated authority: production, import, fork choice, votes and finality.

The rules are the node's own pure functions: ``protocol.consensus`` (turns, slots,
out-of-turn delay, signing limit, ``validate_header``, ``fork_choice_key``) and
``protocol.finality`` (``apply_justifications`` for the votes headers carry,
``FinalityTracker`` for votes seen by gossip, ``quorum``). What the node does through
asyncio and storage is mirrored here, each method naming what it follows. Blocks carry no
events and a made-up state root; headers and votes are really signed.

A crash loses everything but ``Durable`` (the node's data directory): its blocks, head,
final block, its own last vote (the voter's fsync'd record) and its evidence.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from protocol.blocks import ZERO_HASH, Header
from protocol.consensus import (
    BranchHead,
    expected_difficulty,
    fork_choice_key,
    in_turn_authority,
    is_signing_limited,
    next_slot_time,
    out_of_turn_delay_ms,
    validate_header,
)
from protocol.encoding import sha256
from protocol.errors import InvalidBlock
from protocol.evidence import Equivocation, VoteEvidence
from protocol.finality import FinalityTracker, FinalityUpdate, HeaderFinality, apply_justifications, quorum
from protocol.merkle import merkle_root
from protocol.votes import MAX_JUSTIFICATIONS, Checkpoint, Justification, Vote, justification_from_votes, offence, unsigned_vote

from .network import Network
from .scheduler import Scheduler, Timer
from .signatures import FastSigner, signature_ok

if TYPE_CHECKING:
    from .invariants import Observer

EMPTY_EVENTS_ROOT = merkle_root([])
SYNC_BATCH = 32
"""Blocks one sync answer carries (the node's sync pulls height ranges)."""


@dataclass(frozen=True)
class StoredBlock:
    header: Header
    total_difficulty: int
    carried: HeaderFinality
    """What the chain's headers show up to this block (stored with block meta in the node)."""

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.header.height, self.header.hash)


@dataclass(frozen=True)
class Chain:
    """What every node of one run agrees on before the first block: the genesis."""

    genesis_hash: bytes
    genesis_ts: int
    period_ms: int
    authorities: tuple[str, ...]

    @property
    def genesis(self) -> Checkpoint:
        return Checkpoint(0, self.genesis_hash)


@dataclass
class Durable:
    """What survives a crash: the node's data directory."""

    blocks: dict[bytes, StoredBlock]
    head: bytes
    final: Checkpoint
    voted_target: int = 0
    voted_source: int = 0
    evidence: dict[Any, Equivocation | VoteEvidence] = field(default_factory=dict)
    signed_at: dict[tuple[str, int], list[bytes]] = field(default_factory=dict)
    """(proposer, height) -> stored block hashes (the chain store's signed_at index)."""
    justifying_votes: dict[Checkpoint, tuple[Vote, ...]] = field(default_factory=dict)
    """The votes that justified each block above the final one, as gossip brought them.

    Not kept by the node's design today. Without them (seed 134): an authority votes from a
    block that gossiped votes justified on a branch later abandoned, crashes and forgets
    why; its fsync'd vote forbids any lower source (that would surround its vote), the
    headers never carry the justification, and with exactly a quorum honest, finality
    stops for good.
    """


def evidence_key(evidence: Equivocation | VoteEvidence) -> Any:
    if isinstance(evidence, Equivocation):
        return ("block", evidence.proposer, evidence.height)  # the chain store keeps one pair per height
    return ("vote", evidence.first, evidence.second)


class SimNode:
    byzantine = False

    def __init__(
        self,
        index: int,
        signer: FastSigner,
        chain: Chain,
        scheduler: Scheduler,
        network: Network,
        rng: random.Random,
        observer: "Observer",
    ) -> None:
        self.index = index
        self.signer = signer
        self.did = signer.did
        self.chain = chain
        self.scheduler = scheduler
        self.network = network
        self.rng = rng
        self.observer = observer
        genesis = StoredBlock(_genesis_header(chain), 0, HeaderFinality.genesis(chain.genesis_hash))
        self.genesis_block = genesis
        self.durable = Durable(blocks={chain.genesis_hash: genesis}, head=chain.genesis_hash, final=chain.genesis)
        self.up = False
        self.life = 0
        self._timers: list[Timer] = []
        self._plan: Timer | None = None
        self.start()

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Boot from the data directory (``node.daemon`` start-up: ledger, pool, producer)."""
        self.up = True
        self.life += 1
        durable = self.durable
        self.tracker = FinalityTracker(self.chain.genesis, self._parent_checkpoint, self._authorities_for)
        self._children: dict[bytes, set[bytes]] = {}
        for block_hash, stored in durable.blocks.items():
            if stored.header.height > 0:
                self._children.setdefault(stored.header.parent, set()).add(block_hash)
        self._leaves = {h for h in durable.blocks if h not in self._children}
        self._orphans: dict[bytes, list[Header]] = {}
        self._bad: set[bytes] = set()
        for stored in sorted(durable.blocks.values(), key=lambda s: s.header.height):
            if stored.header.height > 0:
                self.tracker.add_header_finality(stored.carried)
        # The ledger's final block is justified whatever the headers carry so far.
        self.tracker.add_header_finality(HeaderFinality(justified=durable.final, final=durable.final))
        self.tracker.prune(durable.final.height)
        for votes in durable.justifying_votes.values():
            for vote in votes:
                self.tracker.add_vote(vote)
        self.tracker.settle()
        self._timers = []
        self._every(2 * self.chain.period_ms, self._send_status)
        self.choose_head()
        self._replan()

    def crash(self) -> None:
        self.up = False
        for timer in self._timers:
            timer.cancel()
        if self._plan is not None:
            self._plan.cancel()
        self._timers = []
        self._plan = None

    def restart(self) -> None:
        if not self.up:
            self.start()

    def _every(self, interval_ms: int, action: Any) -> None:
        def tick() -> None:
            action()
            self._timers.append(self.scheduler.after(interval_ms, tick))

        self._timers.append(self.scheduler.after(self.rng.randint(0, interval_ms), tick))

    # --- chain queries ----------------------------------------------------------------------

    @property
    def head(self) -> StoredBlock:
        return self.durable.blocks[self.durable.head]

    @property
    def final(self) -> Checkpoint:
        return self.durable.final

    def _parent_checkpoint(self, block_hash: bytes) -> Checkpoint | None:
        stored = self.durable.blocks.get(block_hash)
        if stored is None or stored.header.height == 0:
            return None
        parent = self.durable.blocks.get(stored.header.parent)
        return None if parent is None else parent.checkpoint

    def _authorities_for(self, target: Checkpoint) -> Sequence[str] | None:
        return self.chain.authorities if target.hash in self.durable.blocks else None

    def ancestor_at(self, block_hash: bytes, height: int) -> bytes | None:
        blocks = self.durable.blocks
        stored = blocks.get(block_hash)
        while stored is not None and stored.header.height > height:
            stored = blocks.get(stored.header.parent)
        return stored.header.hash if stored is not None and stored.header.height == height else None

    def descends_from(self, block_hash: bytes, ancestor: Checkpoint) -> bool:
        return self.ancestor_at(block_hash, ancestor.height) == ancestor.hash

    def recent_proposers(self, block_hash: bytes) -> list[str]:
        """Proposers of the block and its ancestors, newest first (``Ledger.recent_proposers``)."""
        out, blocks = [], self.durable.blocks
        stored = blocks.get(block_hash)
        while stored is not None and stored.header.height > 0 and len(out) < len(self.chain.authorities):
            out.append(stored.header.proposer)
            stored = blocks.get(stored.header.parent)
        return out

    def highest_justified_below(self, block_hash: bytes, *, include_self: bool) -> Checkpoint:
        """The highest justified block on this block's chain (``FinalityTracker.highest_justified_on``,
        walked down from the block instead of over every justified block)."""
        blocks = self.durable.blocks
        stored = blocks.get(block_hash)
        if stored is not None and not include_self:
            stored = blocks.get(stored.header.parent)
        while stored is not None:
            checkpoint = stored.checkpoint
            if self.tracker.is_justified(checkpoint) or checkpoint == self.final:
                return checkpoint
            stored = blocks.get(stored.header.parent)
        return self.chain.genesis

    # --- messages ---------------------------------------------------------------------------

    def receive(self, sender: int, message: Any) -> None:
        kind = message[0]
        if kind == "block":
            self.import_header(message[1], sender)
        elif kind == "vote":
            self.receive_vote(message[1])
        elif kind == "blocks":
            for header in message[1]:
                self.import_header(header, sender)
        elif kind == "get":
            self._answer_get(sender, message[1])
        elif kind == "status":
            self._receive_status(sender, message[1], message[2], message[3])
        elif kind == "get_votes":
            self._answer_get_votes(sender, message[1])
        elif kind == "votes":
            for vote in message[1]:
                self.receive_vote(vote)
        elif kind == "evidence":
            self.receive_evidence(message[1])
        self.observer.after_step(self)

    def broadcast(self, message: Any, to: Sequence[int] | None = None) -> None:
        self.network.broadcast(self.index, message, to)

    def _send_status(self) -> None:
        """The status handshake every 2 s (``node.p2p``): head, its highest justified block, our evidence.

        The justified block and the votes behind it are not in the node's handshake today;
        without them a network can stall for good (seed 197): after a 2|2 split, one side's
        votes justified its block while the other side lost them; fork choice keeps the
        knowing side on that block, the signing limit lets only the other side extend it,
        and the other side prefers its own branch, so no block is made that could carry them.
        """
        justified = self.highest_justified_below(self.durable.head, include_self=True)
        self.broadcast(("status", self.durable.head, justified, frozenset(self.durable.evidence)))

    def _receive_status(self, sender: int, head: bytes, justified: Checkpoint, evidence: frozenset[Any]) -> None:
        if head not in self.durable.blocks and head not in self._bad:
            self.network.send(self.index, sender, ("get", head))
        if justified.height > self.final.height and not self.tracker.is_justified(justified):
            self.network.send(self.index, sender, ("get_votes", justified))
        for key, found in self.durable.evidence.items():
            if key not in evidence:
                self.network.send(self.index, sender, ("evidence", found))

    def _answer_get_votes(self, sender: int, justified: Checkpoint) -> None:
        """The votes we hold for the blocks of that chain above our final block."""
        blocks, votes = self.durable.blocks, []
        stored = blocks.get(justified.hash)
        while stored is not None and stored.header.height > self.final.height:
            votes.extend(self.tracker.votes_for(stored.checkpoint))
            stored = blocks.get(stored.header.parent)
        if votes:
            self.network.send(self.index, sender, ("votes", tuple(votes)))

    def _answer_get(self, sender: int, block_hash: bytes) -> None:
        """Sync: the block asked for and the ancestors below it, oldest first."""
        blocks, out = self.durable.blocks, []
        stored = blocks.get(block_hash)
        while stored is not None and stored.header.height > 0 and len(out) < SYNC_BATCH:
            out.append(stored.header)
            stored = blocks.get(stored.header.parent)
        if out:
            self.network.send(self.index, sender, ("blocks", tuple(reversed(out))))

    # --- import (node/chain/importer.py BlockImporter.import_block) ------------------------

    def import_header(self, header: Header, sender: int | None) -> bool:
        """Take in a block; True if it was stored."""
        durable = self.durable
        block_hash = header.hash
        if block_hash in durable.blocks or block_hash in self._bad:
            return False
        if header.parent in self._bad or not signature_ok(header):
            self._bad.add(block_hash)
            return False
        parent = durable.blocks.get(header.parent)
        if parent is None:
            waiting = self._orphans.setdefault(header.parent, [])
            if header not in waiting and len(waiting) < 8:
                waiting.append(header)
            if sender is not None:
                self.network.send(self.index, sender, ("get", header.parent))
            return False
        self._check_equivocation(header)
        if header.parent != durable.head and header.height <= self.final.height:
            self._bad.add(block_hash)  # forks below the final block, now and for ever
            return False
        try:
            validate_header(
                header,
                parent_hash=parent.header.hash,
                parent_height=parent.header.height,
                parent_ts=parent.header.ts,
                authorities=self.chain.authorities,
                recent_proposers=self.recent_proposers(parent.header.hash),
                period_ms=self.chain.period_ms,
                now_ms=self.scheduler.now,
            )
            carried = self._carried_finality(parent, header)
        except InvalidBlock:
            self._bad.add(block_hash)
            return False
        self._store(StoredBlock(header, parent.total_difficulty + header.difficulty, carried))
        self._apply(self.tracker.add_header_finality(carried))
        self._apply(self.tracker.settle())
        self.choose_head()
        for child in self._orphans.pop(block_hash, []):
            self.import_header(child, sender)
        return True

    def _carried_finality(self, parent: StoredBlock, header: Header) -> HeaderFinality:
        """``protocol.transition``'s justification check, votes' signatures through the cache."""
        for justification in header.justifications:
            if not all(signature_ok(vote) for vote in justification.votes_as_objects()):
                raise InvalidBlock(f"block {header.height} carries a vote whose signature does not verify")
        return apply_justifications(
            parent.carried,
            header,
            lambda height: self.ancestor_at(parent.header.hash, height),
            lambda height: self.chain.authorities,
            verify=False,
            carried_justified=lambda checkpoint: self.carried_justified(parent.header.hash, checkpoint),
        )

    def carried_justified(self, block_hash: bytes, checkpoint: Checkpoint) -> bool:
        """Whether the headers up to this block showed ``checkpoint`` justified (stored header finality)."""
        if checkpoint == self.chain.genesis:
            return True
        blocks = self.durable.blocks
        stored = blocks.get(block_hash)
        while stored is not None and stored.header.height > checkpoint.height:
            if stored.carried.justified == checkpoint:
                return True
            stored = blocks.get(stored.header.parent)
        return False

    def _store(self, stored: StoredBlock) -> None:
        header = stored.header
        durable = self.durable
        durable.blocks[header.hash] = stored
        durable.signed_at.setdefault((header.proposer, header.height), []).append(header.hash)
        self._children.setdefault(header.parent, set()).add(header.hash)
        self._leaves.discard(header.parent)
        self._leaves.add(header.hash)

    def _check_equivocation(self, header: Header) -> None:
        for other_hash in self.durable.signed_at.get((header.proposer, header.height), ()):
            if other_hash != header.hash:
                self.record_evidence(Equivocation(self.durable.blocks[other_hash].header, header))
                return

    # --- fork choice (Ledger.prefers, BlockImporter._switch_to) ----------------------------

    def branch_key(self, block_hash: bytes) -> tuple[int, ...]:
        stored = self.durable.blocks[block_hash]
        header = stored.header
        justified = self.highest_justified_below(block_hash, include_self=True)
        branch = BranchHead(stored.total_difficulty, header.height, header.proposer, header.hash)
        return (justified.height, *fork_choice_key(branch, self.chain.authorities))

    def choose_head(self) -> None:
        """Move the head to the best branch that keeps the final block; vote and plan on a new head."""
        candidates = [leaf for leaf in self._leaves if self.descends_from(leaf, self.final)]
        if not candidates:
            return
        best = max(candidates, key=self.branch_key)
        if best != self.durable.head:
            self.durable.head = best
            self.on_new_head()

    def on_new_head(self) -> None:
        self.vote_for_head()
        self._replan()

    # --- votes (node/chain/voter.py, node/chain/vote_pool.py) ------------------------------

    def vote_for_head(self) -> None:
        """The honest voting rule: a higher target than ever, a source no lower than ever."""
        head = self.head.checkpoint
        if head.height == 0:
            return
        source = self.highest_justified_below(head.hash, include_self=False)
        durable = self.durable
        if head.height <= durable.voted_target or source.height < durable.voted_source:
            return
        vote = self.signer.sign_vote(unsigned_vote(self.did, source, head))
        durable.voted_target, durable.voted_source = head.height, source.height  # recorded before it is sent
        self.send_vote(vote)

    def send_vote(self, vote: Vote, to: Sequence[int] | None = None) -> None:
        self.receive_vote(vote)
        self.broadcast(("vote", vote), to)

    def receive_vote(self, vote: Vote) -> None:
        if vote.voter not in self.chain.authorities or vote.source_height >= vote.target_height:
            return
        if vote.target_height < self.final.height or self.tracker.has_vote(vote):
            return  # the pool keeps votes at and above the final height
        if not signature_ok(vote):
            return
        self._apply(self.tracker.add_vote(vote))

    def _apply(self, update: FinalityUpdate) -> None:
        for found in update.evidence:
            self.record_evidence(found)
        for justified in update.justified:
            self.durable.justifying_votes[justified] = tuple(self.tracker.votes_for(justified))
        if update.final is not None and update.final.height > self.final.height:
            self.finalize(update.final)
        if update.justified or update.final is not None:
            self.choose_head()

    def finalize(self, checkpoint: Checkpoint) -> None:
        """``Ledger.finalize``: the final block only moves up."""
        previous = self.durable.final
        self.durable.final = checkpoint
        self.observer.finalized(self, previous, checkpoint)
        self.tracker.prune(checkpoint.height)
        kept = self.durable.justifying_votes
        self.durable.justifying_votes = {c: votes for c, votes in kept.items() if c.height >= checkpoint.height}

    # --- evidence ---------------------------------------------------------------------------

    def record_evidence(self, evidence: Equivocation | VoteEvidence) -> None:
        key = evidence_key(evidence)
        if key in self.durable.evidence:
            return
        self.durable.evidence[key] = evidence
        self.broadcast(("evidence", evidence))

    def receive_evidence(self, evidence: Equivocation | VoteEvidence) -> None:
        if evidence_key(evidence) in self.durable.evidence:
            return
        if isinstance(evidence, Equivocation):
            ok = (
                evidence.first.proposer == evidence.second.proposer
                and evidence.first.height == evidence.second.height
                and evidence.first.hash != evidence.second.hash
                and signature_ok(evidence.first)
                and signature_ok(evidence.second)
            )
        else:
            ok = evidence.first.voter == evidence.second.voter and signature_ok(evidence.first) and signature_ok(evidence.second)
            ok = ok and offence(evidence.first, evidence.second) is not None
        if ok:
            self.record_evidence(evidence)

    # --- production (node/chain/producer.py BlockProducer.run / plan / produce) ------------

    def _replan(self) -> None:
        if self._plan is not None:
            self._plan.cancel()
            self._plan = None
        if not self.up:
            return
        head = self.head
        plan = self.plan(head)
        if plan is None:
            self._plan = self.scheduler.after(self.chain.period_ms, self._replan)
            return
        slot, sign_at = plan
        self._plan = self.scheduler.at(sign_at, lambda: self._sign_on(head.header.hash, slot))

    def plan(self, head: StoredBlock) -> tuple[int, int] | None:
        chain = self.chain
        authorities = chain.authorities
        height = head.header.height + 1
        if self.did not in authorities:
            return None
        if is_signing_limited(self.did, len(authorities), self.recent_proposers(head.header.hash)):
            return None
        if self.signed_on(head.header.hash, height):
            return None
        slot = next_slot_time(chain.genesis_ts, chain.period_ms, head.header.ts, self.scheduler.now)
        if in_turn_authority(authorities, height) == self.did:
            return slot, slot
        return slot, slot + out_of_turn_delay_ms(len(authorities), chain.period_ms, self.rng)

    def signed_on(self, parent_hash: bytes, height: int) -> bool:
        blocks = self.durable.blocks
        return any(blocks[h].header.parent == parent_hash for h in self.durable.signed_at.get((self.did, height), ()))

    def _sign_on(self, head_hash: bytes, slot: int) -> None:
        self._plan = None
        if self.durable.head != head_hash:
            self._replan()
            return
        header = self.build_header(slot)
        if header is None:
            self._plan = self.scheduler.after(self.chain.period_ms, self._replan)
            return
        self.publish(header)
        self.observer.after_step(self)

    def build_header(self, ts: int, *, salt: bytes = b"", parent: StoredBlock | None = None) -> Header | None:
        """``protocol.transition.build_block`` for an empty body: validated, then signed."""
        parent = parent or self.head
        height = parent.header.height + 1
        unsigned = Header(
            height=height,
            parent=parent.header.hash,
            ts=ts,
            proposer=self.did,
            events_root=EMPTY_EVENTS_ROOT,
            state_root=sha256(parent.header.state_root + salt),
            difficulty=expected_difficulty(self.chain.authorities, height, self.did),
            justifications=self.justifications_for(parent),
        )
        try:
            validate_header(
                unsigned,
                parent_hash=parent.header.hash,
                parent_height=parent.header.height,
                parent_ts=parent.header.ts,
                authorities=self.chain.authorities,
                recent_proposers=self.recent_proposers(parent.header.hash),
                period_ms=self.chain.period_ms,
                now_ms=self.scheduler.now,
            )
        except InvalidBlock:
            return None
        return self.signer.sign_header(unsigned)

    def publish(self, header: Header, to: Sequence[int] | None = None) -> None:
        self.observer.block_made(self, header)
        self.import_header(header, None)
        self.broadcast(("block", header), to)

    def justifications_for(self, parent: StoredBlock) -> tuple[Justification, ...]:
        """What a proposer carries: quorum links its chain's headers lack, in increasing target order.

        Of the chains of links that build on blocks the headers show justified, the one
        that reaches the highest justified block (then the highest final one).
        """
        needed = quorum(len(self.chain.authorities))
        usable: list[list[Vote]] = []
        for link in self.tracker.links():
            if link.target.height > parent.header.height or link.target.height <= parent.carried.justified.height:
                continue
            if self.ancestor_at(parent.header.hash, link.target.height) != link.target.hash:
                continue
            votes = self.tracker.link_votes(link)
            if len(votes) >= needed:
                usable.append(votes)
        carried: dict[Checkpoint, bool] = {}

        def shown_justified(checkpoint: Checkpoint) -> bool:
            if checkpoint not in carried:
                carried[checkpoint] = self.carried_justified(parent.header.hash, checkpoint)
            return carried[checkpoint]

        # Breadth first, one justification more per round; per latest block the best final
        # and the path to it, which is all a later justification depends on.
        start = parent.carried.justified
        frontier: dict[Checkpoint, tuple[int, list[list[Vote]]]] = {start: (parent.carried.final.height, [])}
        best: tuple[tuple[int, int], list[list[Vote]]] = ((start.height, parent.carried.final.height), [])
        for _ in range(MAX_JUSTIFICATIONS):
            following: dict[Checkpoint, tuple[int, list[list[Vote]]]] = {}
            for latest, (final, path) in frontier.items():
                for votes in usable:
                    source, target = votes[0].source, votes[0].target
                    if target.height <= latest.height or not (source == latest or shown_justified(source)):
                        continue
                    finalizes = target.height == source.height + 1 and source.height > final
                    reached = (source.height if finalizes else final, [*path, votes])
                    if target not in following or reached[0] > following[target][0]:
                        following[target] = reached
            for target, (final, path) in following.items():
                if (target.height, final) > best[0]:
                    best = ((target.height, final), path)
            frontier = following
        return tuple(justification_from_votes(votes) for votes in best[1])


def _genesis_header(chain: Chain) -> Header:
    """A stand-in header for height 0, so the genesis is stored like every block (never sent)."""
    header = Header(
        height=0, parent=ZERO_HASH, ts=chain.genesis_ts, proposer="", events_root=EMPTY_EVENTS_ROOT,
        state_root=ZERO_HASH, difficulty=0,
    )
    header.__dict__["hash"] = chain.genesis_hash
    return header
