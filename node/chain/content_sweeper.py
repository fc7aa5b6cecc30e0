"""Removing uploaded content that no asset registration names within its time to live.

Without it any RPC client could fill the disk with files no event ever accounts for.
Content a registration names (in a block, or waiting in the mempool) is never removed;
once the registration is in a block the content stops being pending for good, so a
later reorg cannot make it expire.
"""

from __future__ import annotations

import asyncio
import logging

from protocol.events import AssetRegister
from protocol.records import get_asset
from storage.content import ContentStore, SweepResult

from .clock import Clock
from .ledger import Ledger
from .mempool import Mempool

log = logging.getLogger("audiera.content")

MAX_SWEEP_INTERVAL_S = 60.0


def sweep_interval_s(ttl_s: float) -> float:
    """Sweep twice per time to live, so content outlives it by at most half of it."""
    return min(ttl_s / 2, MAX_SWEEP_INTERVAL_S)


async def sweep_once(content: ContentStore, ledger: Ledger, mempool: Mempool, now_ms: int, ttl_ms: int) -> SweepResult:
    awaited = {event.body.cid for event in mempool.waiting_events() if isinstance(event.body, AssetRegister)}
    chain = ledger.chain
    result = await asyncio.to_thread(
        content.sweep_pending, now_ms, ttl_ms, lambda cid: get_asset(chain, cid) is not None, awaited
    )
    if result.removed:
        log.info("removed %d upload(s) no registration named within %d s", len(result.removed), ttl_ms // 1000)
    return result


async def run_content_sweeper(content: ContentStore, ledger: Ledger, mempool: Mempool, clock: Clock, ttl_s: int) -> None:
    """Sweep until cancelled; an owned task of the node."""
    interval = sweep_interval_s(ttl_s)
    while True:
        await asyncio.sleep(interval)
        await sweep_once(content, ledger, mempool, clock(), ttl_s * 1000)
