"""Importing blocks made elsewhere: every rule checked, then one atomic append.

Used by sync and by block gossip. The block has already been decoded strictly, which
verified its signatures and events root.
"""

from __future__ import annotations

from protocol.blocks import Block
from protocol.consensus import validate_header
from protocol.errors import InvalidBlock, Rejected
from protocol.state import BlockContext, apply_block

from .clock import Clock
from .ledger import Ledger


class BlockImporter:
    def __init__(self, ledger: Ledger, clock: Clock) -> None:
        self._ledger = ledger
        self._clock = clock

    def import_block(self, block: Block) -> None:
        """Append ``block`` on the head, or raise InvalidBlock saying which rule it breaks."""
        ledger = self._ledger
        head = ledger.head
        header = block.header
        validate_header(
            header,
            parent_hash=head.hash,
            parent_height=head.height,
            parent_ts=head.ts,
            authorities=ledger.authorities_at(header.height),
            recent_proposers=ledger.recent_proposers(),
            period_ms=ledger.genesis.block_period_ms,
            now_ms=self._clock(),
        )
        try:
            result = apply_block(ledger.chain, block.events, BlockContext(header.height, header.ts), head.state_root)
        except Rejected as exc:
            raise InvalidBlock(f"block {header.height} carries an event the state refuses: {exc.message}") from None
        if result.state_root != header.state_root:
            raise InvalidBlock(f"block {header.height}: the state root after applying its events differs from its header")
        ledger.append(block, result)
