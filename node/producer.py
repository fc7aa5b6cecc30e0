"""Block production by this node's authority key.

Every slot (genesis time + k * block period) at which this node may sign, it takes
the mempool's ready events, applies them on the head's state, signs the header, and
appends the block, empty or not, so that time on the chain keeps moving.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

from protocol.blocks import MAX_BLOCK_BYTES, MAX_BLOCK_EVENTS, Block, Header, compute_events_root, sign_header
from protocol.consensus import IN_TURN_DIFFICULTY, OUT_OF_TURN_DIFFICULTY, in_turn_authority, next_slot_time
from protocol.errors import Rejected
from protocol.keys import SigningKey
from protocol.state import BlockContext, BlockResult, StateOverlay, apply_event, next_state_root

from .clock import Clock
from .ledger import Ledger
from .mempool import Mempool

log = logging.getLogger("audiera.producer")

# Room for the header and the block's own framing within MAX_BLOCK_BYTES.
_BLOCK_OVERHEAD = 1024


class BlockProducer:
    def __init__(self, ledger: Ledger, mempool: Mempool, key: SigningKey, clock: Clock, announce: Callable[[Block], None]) -> None:
        self._announce = announce
        self._ledger = ledger
        self._mempool = mempool
        self._key = key
        self._clock = clock

    async def run(self) -> None:
        genesis = self._ledger.genesis
        while True:
            head = self._ledger.head
            slot = next_slot_time(genesis.timestamp, genesis.block_period_ms, head.ts, self._clock())
            await asyncio.sleep(max(0, slot - self._clock()) / 1000)
            if self._ledger.head != head:
                continue  # the head moved while we waited (a block from elsewhere): plan again
            block = self.produce(slot)
            self._announce(block)
            level = logging.INFO if block.events else logging.DEBUG
            log.log(level, "produced block %d %s with %d events", block.height, block.hash.hex()[:12], len(block.events))

    def produce(self, ts: int) -> Block:
        head = self._ledger.head
        height = head.height + 1
        context = BlockContext(height=height, ts=ts)
        overlay = StateOverlay(self._ledger.chain)
        included, touched = [], []
        for event in self._mempool.take(MAX_BLOCK_EVENTS, MAX_BLOCK_BYTES - _BLOCK_OVERHEAD):
            try:
                touched.append(apply_event(overlay, event, context))
            except Rejected as exc:
                # Admission checked it on an earlier state; it no longer applies.
                self._mempool.drop(event, exc.message)
                continue
            included.append(event)
        result = BlockResult(overlay.writes, next_state_root(head.state_root, overlay.writes), tuple(touched))
        authorities = self._ledger.authorities_at(height)
        in_turn = in_turn_authority(authorities, height) == self._key.did
        header = sign_header(
            self._key,
            Header(
                height=height,
                parent=head.hash,
                ts=ts,
                proposer=self._key.did,
                events_root=compute_events_root(included),
                state_root=result.state_root,
                difficulty=IN_TURN_DIFFICULTY if in_turn else OUT_OF_TURN_DIFFICULTY,
            ),
        )
        block = Block(header=header, events=tuple(included))
        self._ledger.append(block, result)
        return block
