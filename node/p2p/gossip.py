"""Gossip validation and event batching.

Validators run on the network thread before a message is delivered or relayed, and
decide on what the message is by itself: strict decoding, sizes, signatures, and that
a block's proposer is an authority. Whether it fits our chain is decided on import.
A rejected message goes no further, and its forwarder is scored down.

Outgoing events are batched: py-libp2p spends its time per message, not per byte, so
one message of many events carries far more events per second than many messages.
"""

from __future__ import annotations

import asyncio
import logging
from typing import AbstractSet, Awaitable, Callable

from protocol.blocks import MAX_BLOCK_BYTES, Block, decode_block
from protocol.errors import ProtocolError
from protocol.events import MAX_EVENT_BYTES, Event, decode_event

from .host import P2PError
from .messages import MAX_EVENT_BATCH, decode_event_batch, encode_event_batch

log = logging.getLogger("audiera.gossip")

BATCH_WINDOW_S = 0.02
"""How long the first event of a batch waits for company."""
MAX_BATCH_BYTES = 900_000
"""Below py-libp2p's 1 MiB message limit, which it enforces by silently not sending."""

Strike = Callable[[str, str], None]
"""(forwarding peer, reason): called on the network thread; must only schedule work."""


def event_batch_validator(strike: Strike, banned: AbstractSet[str]) -> Callable[[str, bytes], bool]:
    def validate(peer: str, data: bytes) -> bool:
        if peer in banned:
            return False
        if len(data) > MAX_BATCH_BYTES + 1024:
            strike(peer, f"event batch of {len(data)} bytes is over the limit")
            return False
        try:
            for raw in decode_event_batch(data):
                decode_event(raw)
        except ProtocolError as exc:
            strike(peer, f"invalid event gossip: {exc.message}")
            return False
        return True

    return validate


def block_validator(
    strike: Strike,
    banned: AbstractSet[str],
    authorities: Callable[[int], tuple[str, ...]],
    already_verified: Callable[[bytes], bool],
) -> Callable[[str, bytes], bool]:
    def validate(peer: str, data: bytes) -> bool:
        if peer in banned:
            return False
        try:
            block = decode_block(data, max_bytes=MAX_BLOCK_BYTES, already_verified=already_verified)
        except ProtocolError as exc:
            strike(peer, f"invalid block gossip: {exc.message}")
            return False
        if block.header.proposer not in authorities(block.height):
            strike(peer, f"block {block.height} gossiped from a non-authority {block.header.proposer}")
            return False
        return True

    return validate


def decode_validated_events(data: bytes) -> list[Event]:
    """Events of a batch the validator accepted: signatures were checked there."""
    return [decode_event(raw, verify=False) for raw in decode_event_batch(data)]


def decode_validated_block(data: bytes) -> Block:
    return decode_block(data, verify=False)


class EventBatcher:
    """Collects events to announce and publishes them in batches."""

    def __init__(self, publish: Callable[[bytes], Awaitable[None]]) -> None:
        self._publish = publish
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()

    def add(self, raw_event: bytes) -> None:
        self._queue.put_nowait(raw_event)

    async def run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            size = len(batch[0])
            await asyncio.sleep(BATCH_WINDOW_S)
            while not self._queue.empty() and len(batch) < MAX_EVENT_BATCH:
                if size + MAX_EVENT_BYTES > MAX_BATCH_BYTES:
                    break
                raw = self._queue.get_nowait()
                batch.append(raw)
                size += len(raw) + 5
            try:
                await self._publish(encode_event_batch(batch))
            except P2PError as exc:  # blocks will carry the events all the same
                log.warning("could not gossip %d events: %s", len(batch), exc.message)
