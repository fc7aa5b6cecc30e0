"""Block production by this node's authority key (Clique's sealing rules).

For each new head, the producer plans the next block: the in-turn authority
(``authorities[h % n]``) signs at the slot (genesis time + k * block period), the others
out of turn only when the in-turn authority looks down, so the chain keeps growing while
authorities are down but a healthy network under load does not fork. Out of turn, the
random delay counts from when this node imported the parent (not from the slot, which a
late parent has already passed), and it is stretched while the in-turn authority was
heard from lately (``last_heard_ms``, fed by gossip: a slow authority is not a down one);
see ``protocol.consensus.out_of_turn_sign_time``. It does not sign when the signing
limit forbids it, when it already signed a block on the same parent (that would be
equivocation), or while the node is catching up; out of turn, it also stands back when
gossip already carries another block on the same head. A new head cancels the plan and
starts another.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from typing import Callable

from protocol.blocks import MAX_BLOCK_BYTES, MAX_BLOCK_EVENTS, Block
from protocol.consensus import (
    first_slot_after,
    in_turn_authority,
    is_signing_limited,
    next_slot_time,
    out_of_turn_delay_ms,
    out_of_turn_sign_time,
    signed_in_last_rotation,
)
from protocol.errors import InvalidBlock
from protocol.keys import SigningKey
from protocol.transition import build_block
from storage.chain import ChainTip

from .clock import Clock
from .finality_context import canonical_finality
from .ledger import HeadChange, Ledger
from .mempool import Mempool

log = logging.getLogger("audiera.producer")

# Room for the header and the block's own framing within MAX_BLOCK_BYTES.
_BLOCK_OVERHEAD = 1024
_INTERVAL_BLOCKS = 4
"""Heads over which the time between blocks is measured."""


class BlockProducer:
    def __init__(
        self,
        ledger: Ledger,
        mempool: Mempool,
        key: SigningKey,
        clock: Clock,
        announce: Callable[[Block], None],
        *,
        may_produce: Callable[[], bool] = lambda: True,
        block_in_flight: Callable[[bytes], bool] = lambda parent: False,
        last_heard_ms: Callable[[str], int | None] = lambda authority: None,
        rng: random.Random | None = None,
    ) -> None:
        self._announce = announce
        self._ledger = ledger
        self._mempool = mempool
        self._key = key
        self._clock = clock
        self._may_produce = may_produce
        self._block_in_flight = block_in_flight
        self._last_heard_ms = last_heard_ms
        self._rng = rng or random.Random()
        self._head_seen = (ledger.head.hash, clock())
        """The head and when this node got it (at start: now, so a restart does not sign at once)."""
        self._delay: tuple[bytes, int] | None = None
        """The out-of-turn delay drawn for a head: drawn once, so that planning again keeps it."""
        self._head_times: deque[int] = deque(maxlen=_INTERVAL_BLOCKS + 1)
        """When the last few heads arrived here, oldest first."""
        ledger.add_listener(self._on_head_change)

    def _on_head_change(self, change: HeadChange) -> None:
        now = self._clock()
        self._head_seen = (change.applied[-1].hash, now)
        self._head_times.append(now)

    def block_interval_ms(self) -> int:
        """The mean time between the last few heads as they arrived here (0 until there are two)."""
        times = self._head_times
        return 0 if len(times) < 2 else (times[-1] - times[0]) // (len(times) - 1)

    async def run(self) -> None:
        period_s = self._ledger.genesis.block_period_ms / 1000
        stood_back_on: bytes | None = None
        while True:
            head = self._ledger.head
            plan = self.plan(head)
            if plan is None:
                await self._until_new_head(head, period_s)
                continue
            slot, sign_at = plan
            if sign_at > self._clock():
                # Plan again afterwards: a new head, or news of the in-turn authority
                # while we waited, moves the time.
                await self._until_new_head(head, (sign_at - self._clock()) / 1000)
                continue
            if not self._may_produce():
                await self._until_new_head(head, period_s)
                continue
            out_of_turn = in_turn_authority(self._ledger.authorities, head.height + 1) != self._key.did
            if out_of_turn and stood_back_on != head.hash and self._block_in_flight(head.hash):
                # Another authority's block on this head is on its way: give it one more
                # period to arrive (only once: a block that never imports must not stall us).
                stood_back_on = head.hash
                await self._until_new_head(head, period_s)
                continue
            try:
                block = self.produce(slot)
            except InvalidBlock as exc:
                # The plan said we may sign, the rules say no (our clock moved under us, say):
                # the next head, or the next period, brings a new plan.
                log.error("did not sign block %d: %s", head.height + 1, exc.message)
                await self._until_new_head(head, period_s)
                continue
            self._announce(block)
            level = logging.INFO if block.events else logging.DEBUG
            log.log(level, "produced block %d %s with %d events", block.height, block.hash.hex()[:12], len(block.events))

    def plan(self, head: ChainTip) -> tuple[int, int] | None:
        """(block timestamp, when to sign) for the block after ``head``, or None if we may not sign it."""
        ledger, did = self._ledger, self._key.did
        authorities = ledger.authorities
        height = head.height + 1
        if did not in authorities:
            return None
        if is_signing_limited(did, len(authorities), ledger.recent_proposers()):
            return None
        if self._signed_on(head):
            return None
        genesis = ledger.genesis
        period = genesis.block_period_ms
        slot = next_slot_time(genesis.timestamp, period, head.ts, self._clock())
        in_turn = in_turn_authority(authorities, height)
        if in_turn == did:
            return slot, slot
        recent = ledger.recent_proposers()
        # An in-turn authority that may not sign this block is not waited for, however alive.
        limited = is_signing_limited(in_turn, len(authorities), recent)
        sign_at = out_of_turn_sign_time(
            first_slot_after(genesis.timestamp, period, head.ts),
            self._head_seen_ms(head),
            self._delay_for(head),
            in_turn_heard_ms=None if limited else self._last_heard_ms(in_turn),
            in_turn_signed_lately=not limited and signed_in_last_rotation(in_turn, len(authorities), recent),
            authority_count=len(authorities),
            period_ms=period,
            block_interval_ms=self.block_interval_ms(),
        )
        return slot, sign_at

    def _head_seen_ms(self, head: ChainTip) -> int:
        if self._head_seen[0] != head.hash:  # a head the listener did not see: count from now
            self._head_seen = (head.hash, self._clock())
        return self._head_seen[1]

    def _delay_for(self, head: ChainTip) -> int:
        if self._delay is None or self._delay[0] != head.hash:
            authorities = self._ledger.authorities
            self._delay = (head.hash, out_of_turn_delay_ms(len(authorities), self._ledger.genesis.block_period_ms, self._rng))
        return self._delay[1]

    def _signed_on(self, head: ChainTip) -> bool:
        """Whether we already signed a child of ``head``: a second one would be equivocation.

        After a reorg we may sign again at a height we signed on the abandoned branch (on
        another parent): refusing would let the signing limit stall the chain once every
        authority free to sign had signed on some abandoned branch. Peers still record such
        pairs as evidence; what is never signed is two children of one parent.
        """
        chain = self._ledger.chain
        for block_hash in chain.signed_at(self._key.did, head.height + 1):
            meta = chain.block_meta(block_hash)
            if meta is not None and meta.parent == head.hash:
                return True
        return False

    async def _until_new_head(self, head: ChainTip, timeout_s: float) -> bool:
        """Wait up to ``timeout_s``; True if the head is still ``head`` afterwards."""
        if self._ledger.head == head:
            try:
                await asyncio.wait_for(self._ledger.wait_for_new_head(), timeout=timeout_s)
            except asyncio.TimeoutError:
                pass
        return self._ledger.head == head

    def produce(self, ts: int) -> Block:
        """Sign the next block at ``ts`` with what the mempool holds and append it; raise InvalidBlock
        (and sign nothing) if the rules would refuse it."""
        ledger = self._ledger
        built = build_block(
            ledger.head,
            ledger.chain,
            ledger.recent_proposers(),
            self._mempool.take(MAX_BLOCK_EVENTS, MAX_BLOCK_BYTES - _BLOCK_OVERHEAD),
            key=self._key,
            ts=ts,
            period_ms=ledger.genesis.block_period_ms,
            now_ms=self._clock(),
            finality=canonical_finality(ledger.chain, ledger.head, ledger.authorities),
            justifications=ledger.pending_justifications(),
        )
        for event, reason in built.refused:
            # Admission checked it on an earlier state; it no longer applies.
            self._mempool.drop(event, reason)
        ledger.append(built.block, built.result)
        return built.block
