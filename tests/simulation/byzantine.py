"""A lying authority: it double-signs blocks, double-votes and surround-votes while the faults last.

It reaches every side of a partition (the strongest position for a liar) and votes for
every block it sees on any branch, so wherever two branches meet it has signed for both;
at some of its turns it signs two blocks on one parent and shows each to half of the
network. When the faults stop it either turns honest (its voting record raised to the
highest target and source it ever signed, so it signs nothing slashable again) or goes
silent for good.
"""

from __future__ import annotations

from typing import Any

from protocol.blocks import Header
from protocol.consensus import next_slot_time
from protocol.votes import Checkpoint, unsigned_vote

from .node import SimNode, StoredBlock

DOUBLE_SIGN_RATE = 0.5
SURROUND_RATE = 0.3


class ByzantineNode(SimNode):
    byzantine = True

    def __init__(self, *args: Any, misbehave_until: int, silent_after: bool, **kwargs: Any) -> None:
        self.misbehave_until = misbehave_until
        self.silent_after = silent_after
        self._voted_for: set[bytes] = set()
        super().__init__(*args, **kwargs)

    @property
    def misbehaving(self) -> bool:
        return self.scheduler.now < self.misbehave_until

    def stop_misbehaving(self) -> None:
        if self.silent_after:
            self.crash()
        else:
            self._replan()

    def _store(self, stored: StoredBlock) -> None:
        super()._store(stored)
        if self.misbehaving and stored.header.height > 0:
            block_hash = stored.header.hash
            self.scheduler.after(0, lambda: self._vote_for_any(block_hash))

    def _vote_for_any(self, block_hash: bytes) -> None:
        if not self.up or not self.misbehaving or block_hash in self._voted_for:
            return
        self._voted_for.add(block_hash)
        target = self.durable.blocks[block_hash].checkpoint
        source = self.highest_justified_below(block_hash, include_self=False)
        if source.height > 0 and self.rng.random() < SURROUND_RATE:
            source = self._older_justified(source)
        vote = self.signer.sign_vote(unsigned_vote(self.did, source, target))
        durable = self.durable
        durable.voted_target = max(durable.voted_target, target.height)
        durable.voted_source = max(durable.voted_source, source.height)
        self.send_vote(vote)
        self.observer.after_step(self)

    def _older_justified(self, source: Checkpoint) -> Checkpoint:
        """A justified block below ``source`` on its chain (genesis at worst): a vote from it
        surrounds the votes this authority made from ``source``."""
        return self.highest_justified_below(source.hash, include_self=False)

    def _sign_on(self, head_hash: bytes, slot: int) -> None:
        super()._sign_on(head_hash, slot)
        if self.up and self.misbehaving:
            self._extend_every_branch()

    def _extend_every_branch(self) -> None:
        """Sign on the head of every branch it may sign on, so that each side of a split grows."""
        now = self.scheduler.now
        for leaf in sorted(self._leaves):
            stored = self.durable.blocks[leaf]
            if leaf == self.durable.head or stored.header.height < self.final.height:
                continue
            ts = next_slot_time(self.chain.genesis_ts, self.chain.period_ms, stored.header.ts, now)
            if ts > now:
                continue
            header = self.build_header(ts, parent=stored)
            if header is not None:
                self.publish(header)

    def _send_status(self) -> None:
        if not self.misbehaving:  # while lying it shows no side the other's chain
            super()._send_status()

    def _answer_get(self, sender: int, block_hash: bytes) -> None:
        if not self.misbehaving:
            super()._answer_get(sender, block_hash)

    def _answer_get_votes(self, sender: int, justified: Checkpoint) -> None:
        if not self.misbehaving:
            super()._answer_get_votes(sender, justified)

    def vote_for_head(self) -> None:
        if not self.misbehaving:
            super().vote_for_head()

    def publish(self, header: Header, to: Any = None) -> None:
        if not self.misbehaving or self.rng.random() >= DOUBLE_SIGN_RATE:
            super().publish(header, to)
            return
        twin = self.build_header(header.ts, salt=b"twin")
        first, second = self._two_audiences()
        super().publish(header, first)
        if twin is not None:
            super().publish(twin, second)

    def _two_audiences(self) -> tuple[list[int], list[int]]:
        """Two groups of peers to show different blocks: the sides of a partition if there is
        one (the liar knows the network it attacks), else two random halves."""
        peers = [peer.index for peer in self.network.peers if peer.index != self.index]
        self.rng.shuffle(peers)
        if self.network.partitioned:
            anchor = peers[0]
            first = [peer for peer in peers if self.network.connected(anchor, peer)]
            return first, [peer for peer in peers if peer not in first]
        half = len(peers) // 2
        return peers[:half], peers[half:]
