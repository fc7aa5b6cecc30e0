"""Catching up: fetch blocks by height range from a peer that is ahead, and import them.

Correctness never rests on gossip: a node that starts late, restarts after a crash or
missed a block learns from status exchanges that a peer is ahead, and pulls what it
lacks here, checking every block as it imports it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from protocol.blocks import decode_block
from protocol.errors import ProtocolError
from protocol.events import Event

from .importer import BlockImporter
from .ledger import Ledger
from .p2p.host import P2PError
from .p2p.messages import MAX_SYNC_BLOCKS, BlocksByRange, decode_blocks
from .p2p.peers import PENALTY_BAD_RESPONSE, PENALTY_FAILED_REQUEST, PENALTY_INVALID_BLOCK, PeerBook

log = logging.getLogger("audiera.sync")

Requester = Callable[[str, bytes], Awaitable[bytes]]
Penalizer = Callable[[str, int, str], Awaitable[None]]
BATCH = 128
GOSSIP_LAG_BLOCKS = 2
GOSSIP_GRACE_S = 3.0


class Syncer:
    def __init__(
        self,
        ledger: Ledger,
        importer: BlockImporter,
        peers: PeerBook,
        request: Requester,
        penalize: Penalizer,
        known_events: Callable[[bytes], Event | None],
    ) -> None:
        self._known_events = known_events
        self._ledger = ledger
        self._importer = importer
        self._peers = peers
        self._request = request
        self._penalize = penalize
        self._wake = asyncio.Event()
        self.target_height = 0

    @property
    def syncing(self) -> bool:
        return self.target_height > self._ledger.head.height

    def poke(self) -> None:
        """Look again for a peer ahead (after a status exchange or an unconnected block)."""
        self._wake.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        progress = (self._ledger.head.height, loop.time())
        while True:
            await self._wake.wait()
            self._wake.clear()
            while (peer := self._peers.best_ahead_of(self._ledger.head.height)) is not None:
                head = self._ledger.head.height
                if head != progress[0]:
                    progress = (head, loop.time())
                lag = peer.status.head_height - head  # type: ignore[union-attr]
                self.target_height = max(self.target_height, head + lag)
                # A block or two behind is normal while gossip delivers them: pulling the
                # same blocks again would only double the work. Sync when further behind,
                # or when gossip has brought nothing for a while.
                if lag <= GOSSIP_LAG_BLOCKS and loop.time() - progress[1] < GOSSIP_GRACE_S:
                    break
                if not await self._pull_from(peer.peer_id):
                    break

    async def _pull_from(self, peer: str) -> bool:
        """Import one batch from ``peer``; False if it could not give us anything usable."""
        start = self._ledger.head.height + 1
        request = BlocksByRange(start=start, count=min(BATCH, MAX_SYNC_BLOCKS))
        try:
            raw_blocks = decode_blocks(await self._request(peer, request.encode()))
        except P2PError as exc:
            await self._penalize(peer, PENALTY_FAILED_REQUEST, f"sync request failed: {exc.message}")
            return False
        except ProtocolError as exc:
            await self._penalize(peer, PENALTY_BAD_RESPONSE, f"malformed sync response: {exc.message}")
            return False
        if not raw_blocks:
            # It said it was ahead but has nothing past our head: its status is stale.
            record = self._peers.get(peer)
            if record is not None:
                record.status = None
            return False
        for raw in raw_blocks:
            try:
                block = decode_block(raw, known_events=self._known_events)
                if block.height <= self._ledger.head.height:
                    continue  # arrived meanwhile by gossip
                self._importer.import_block(block)
            except ProtocolError as exc:
                await self._penalize(peer, PENALTY_INVALID_BLOCK, f"invalid block in sync: {exc.message}")
                return False
        log.info("synced to height %d from %s", self._ledger.head.height, peer)
        return True
