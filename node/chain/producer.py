"""Block production by this node's authority key (Clique's sealing rules).

For each new head, the producer plans the next block: the in-turn authority
(``authorities[h % n]``) signs at the slot (genesis time + k * block period), the others
out of turn after a random delay, so the chain keeps growing while authorities are down
but an in-turn block, when it comes, arrives first. It does not sign when the signing
limit forbids it, when it already signed a block on the same parent (that would be
equivocation), or while the node is catching up; out of turn, it
also stands back when gossip already carries another block on the same head. A new
head cancels the plan and starts another.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Callable

from protocol.blocks import MAX_BLOCK_BYTES, MAX_BLOCK_EVENTS, Block
from protocol.consensus import in_turn_authority, is_signing_limited, next_slot_time, out_of_turn_delay_ms
from protocol.errors import InvalidBlock
from protocol.keys import SigningKey
from protocol.transition import build_block
from storage.chain import ChainTip

from .clock import Clock
from .finality_context import canonical_finality
from .ledger import Ledger
from .mempool import Mempool

log = logging.getLogger("audiera.producer")

# Room for the header and the block's own framing within MAX_BLOCK_BYTES.
_BLOCK_OVERHEAD = 1024


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
        rng: random.Random | None = None,
    ) -> None:
        self._announce = announce
        self._ledger = ledger
        self._mempool = mempool
        self._key = key
        self._clock = clock
        self._may_produce = may_produce
        self._block_in_flight = block_in_flight
        self._rng = rng or random.Random()

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
            if not await self._until_new_head(head, max(0, sign_at - self._clock()) / 1000):
                continue  # the head moved while we waited (a block from elsewhere): plan again
            if not self._may_produce():
                await self._until_new_head(head, period_s)
                continue
            if sign_at > slot and stood_back_on != head.hash and self._block_in_flight(head.hash):
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
        if in_turn_authority(authorities, height) == did:
            return slot, slot
        return slot, slot + out_of_turn_delay_ms(len(authorities), period, self._rng)

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
