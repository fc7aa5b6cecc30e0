"""Replication: fetching the content of newly registered assets, with retries."""

from __future__ import annotations

import asyncio
import logging

from protocol.events import AssetRegister

from node.chain.ledger import HeadChange

from .content_exchange import ContentExchange, FetchError
from .host import P2PError

log = logging.getLogger("audiera.content")

ATTEMPTS = 5


class Replicator:
    def __init__(self, content: ContentExchange) -> None:
        self._content = content
        self._queue: asyncio.Queue[str] = asyncio.Queue()

    def on_head_change(self, change: HeadChange) -> None:
        """Ledger listener: queue the content of new assets."""
        for block in change.applied:
            for event in block.events:
                if isinstance(event.body, AssetRegister):
                    self._queue.put_nowait(event.body.cid)

    async def run(self) -> None:
        while True:
            cid = await self._queue.get()
            for attempt in range(ATTEMPTS):
                try:
                    await self._content.fetch(cid)
                    break
                except (FetchError, P2PError) as exc:
                    log.info("replicating %s, attempt %d: %s", cid, attempt + 1, exc.message)
                    await asyncio.sleep(2**attempt)
