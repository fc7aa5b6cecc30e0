"""Replication: fetching the sealed content of newly registered assets, with retries."""

from __future__ import annotations

import asyncio
import logging

from protocol.events import AssetRegister

from node.chain.ledger import HeadChange

from .content_exchange import AssetFacts, ContentExchange, FetchError
from .host import P2PError

log = logging.getLogger("audiera.content")

ATTEMPTS = 5


class Replicator:
    def __init__(self, content: ContentExchange) -> None:
        self._content = content
        self._queue: asyncio.Queue[AssetFacts] = asyncio.Queue()

    def on_head_change(self, change: HeadChange) -> None:
        """Ledger listener: queue the content of new assets."""
        for block in change.applied:
            for event in block.events:
                body = event.body
                if isinstance(body, AssetRegister):
                    media = None if body.media is None else body.media.to_wire()
                    self._queue.put_nowait(AssetFacts(body.cid, body.sealed_cid, body.size, media))

    async def run(self) -> None:
        while True:
            asset = await self._queue.get()
            for attempt in range(ATTEMPTS):
                try:
                    await self._content.fetch(asset.sealed_cid, asset)
                    break
                except (FetchError, P2PError) as exc:
                    log.info("replicating %s (sealed %s), attempt %d: %s", asset.asset, asset.sealed_cid, attempt + 1, exc.message)
                    await asyncio.sleep(2**attempt)
