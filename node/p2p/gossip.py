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
import itertools
import logging
import threading
from typing import AbstractSet, Any, Awaitable, Callable

from protocol.blocks import Block, CompactBlock, decode_compact_block
from protocol.encoding import sha256
from protocol.errors import ProtocolError
from protocol.evidence import decode_equivocation
from protocol.events import Event, decode_event

from .host import P2PError
from .messages import MAX_EVENT_BATCH, decode_event_batch, encode_event_batch

log = logging.getLogger("audiera.gossip")

BATCH_WINDOW_S = 0.1
"""How long the first event of a batch waits for company."""
MAX_BATCH_BYTES = 900_000
"""Below py-libp2p's 1 MiB message limit, which it enforces by silently not sending."""

Strike = Callable[[str, str], None]
"""(forwarding peer, reason): called on the network thread; must only schedule work."""


class Validated:
    """What validators decoded, kept briefly for the consumer so nothing is decoded twice.

    Validators run on the network thread and consumers on the asyncio loop: a lock guards it.
    """

    def __init__(self, capacity: int = 512) -> None:
        self._items: dict[bytes, Any] = {}
        self._capacity = capacity
        self._lock = threading.Lock()

    def put(self, data: bytes, decoded: Any) -> None:
        with self._lock:
            self._items[sha256(data)] = decoded
            while len(self._items) > self._capacity:
                del self._items[next(iter(self._items))]

    def take(self, data: bytes) -> Any:
        with self._lock:
            return self._items.pop(sha256(data), None)


class VerifiedEvents:
    """Events whose signatures the validators checked recently, by id.

    The mempool learns of a gossiped event only when the asyncio loop gets round to it,
    while a block carrying the same event can pass validation on the network thread
    first (and the other way round): without this, such an event's signature would be
    checked twice, and under load signature checks are a third of a node's time.
    """

    def __init__(self, capacity: int = 20_000) -> None:
        self._events: dict[bytes, Event] = {}
        self._capacity = capacity
        self._lock = threading.Lock()

    def add(self, events: list[Event]) -> None:
        with self._lock:
            for event in events:
                self._events[event.id] = event
            excess = len(self._events) - self._capacity
            if excess > 0:
                for event_id in list(itertools.islice(self._events, excess)):
                    del self._events[event_id]

    def get(self, event_id: bytes) -> Event | None:
        with self._lock:
            return self._events.get(event_id)


def event_batch_validator(
    strike: Strike,
    banned: AbstractSet[str],
    validated: Validated,
    known_events: Callable[[bytes], Event | None],
    included: Callable[[bytes], bool],
    verified: VerifiedEvents,
) -> Callable[[str, bytes], bool]:
    """Checks every event of a batch, except those this node already holds (verified) or
    has already included (a block can overtake the batch that carried its events); the
    events it checks go into ``verified``, which ``known_events`` is expected to consult."""

    def validate(peer: str, data: bytes) -> bool:
        if peer in banned:
            return False
        if len(data) > MAX_BATCH_BYTES + 1024:
            strike(peer, f"event batch of {len(data)} bytes is over the limit")
            return False
        try:
            events, checked = [], []
            for raw in decode_event_batch(data):
                event_id = sha256(raw)
                known = known_events(event_id)
                if known is not None:
                    events.append(known)
                elif not included(event_id):
                    checked.append(decode_event(raw))
                    events.append(checked[-1])
        except ProtocolError as exc:
            strike(peer, f"invalid event gossip: {exc.message}")
            return False
        verified.add(checked)
        validated.put(data, events)
        return True

    return validate


class ChildrenSeen:
    """Parents of recent blocks seen on gossip (validated, so signed by an authority).

    Written on the network thread as soon as a block passes validation, long before it is
    imported: an out-of-turn authority that sees another block on its head in flight does
    not sign a competing one (each fork costs every node a reorg, which under load is the
    difference between keeping up and falling behind).
    """

    def __init__(self, capacity: int = 256) -> None:
        self._parents: dict[bytes, None] = {}
        self._capacity = capacity
        self._lock = threading.Lock()

    def add(self, parent: bytes) -> None:
        with self._lock:
            self._parents[parent] = None
            while len(self._parents) > self._capacity:
                del self._parents[next(iter(self._parents))]

    def __contains__(self, parent: object) -> bool:
        with self._lock:
            return parent in self._parents


def block_validator(
    strike: Strike,
    banned: AbstractSet[str],
    authorities: Callable[[], tuple[str, ...]],
    validated: Validated,
    known_events: Callable[[bytes], Event | None],
    children_seen: ChildrenSeen,
) -> Callable[[str, bytes], bool]:
    """Checks a compact block by itself: encoding, events root over its ids, signature,
    proposer. It is relayed whether or not this node holds its events: the consumer
    fetches what is missing, and a signed header with a matching root commits to them."""

    def validate(peer: str, data: bytes) -> bool:
        if peer in banned:
            return False
        try:
            compact = decode_compact_block(data)
        except ProtocolError as exc:
            strike(peer, f"invalid block gossip: {exc.message}")
            return False
        if compact.header.proposer not in authorities():
            strike(peer, f"block {compact.height} gossiped from a non-authority {compact.header.proposer}")
            return False
        children_seen.add(compact.header.parent)
        validated.put(data, assemble_known(compact, known_events))
        return True

    return validate


def assemble_known(compact: CompactBlock, known_events: Callable[[bytes], Event | None]) -> Block | CompactBlock:
    """The whole block if every event is known here, else the compact block as it is."""
    events = []
    for event_id in compact.event_ids:
        event = known_events(event_id)
        if event is None:
            return compact
        events.append(event)
    return compact.assemble(events)


def evidence_validator(strike: Strike, banned: AbstractSet[str], validated: Validated) -> Callable[[str, bytes], bool]:
    """Equivocation proofs are relayed only when both headers verify and really conflict."""

    def validate(peer: str, data: bytes) -> bool:
        if peer in banned:
            return False
        try:
            evidence = decode_equivocation(data)
        except ProtocolError as exc:
            strike(peer, f"invalid evidence gossip: {exc.message}")
            return False
        validated.put(data, evidence)
        return True

    return validate


def validated_events(validated: Validated, data: bytes) -> list[Event]:
    """Events of a batch the validator accepted (their signatures were checked there)."""
    events = validated.take(data)
    return events if events is not None else [decode_event(raw, verify=False) for raw in decode_event_batch(data)]


def validated_block(validated: Validated, data: bytes) -> Block | CompactBlock:
    block = validated.take(data)
    # Validated entries are few and recent: one that fell out was checked all the same.
    return block if block is not None else decode_compact_block(data, verify=False)


class EventBatcher:
    """Collects events to announce and publishes them in batches.

    ``flush`` publishes what waits at once: a producer calls it before announcing a
    block, so that peers receive the block's events before the compact block.
    """

    def __init__(self, publish: Callable[[bytes], Awaitable[None]]) -> None:
        self._publish = publish
        self._waiting: list[bytes] = []
        self._arrived = asyncio.Event()

    def add(self, raw_event: bytes) -> None:
        self._waiting.append(raw_event)
        self._arrived.set()

    async def run(self) -> None:
        while True:
            await self._arrived.wait()
            await asyncio.sleep(BATCH_WINDOW_S)
            await self.flush()

    async def flush(self) -> None:
        waiting, self._waiting = self._waiting, []
        self._arrived.clear()
        batch: list[bytes] = []
        size = 0
        for raw in waiting:
            if batch and (len(batch) >= MAX_EVENT_BATCH or size + len(raw) + 5 > MAX_BATCH_BYTES):
                await self._publish_batch(batch)
                batch, size = [], 0
            batch.append(raw)
            size += len(raw) + 5
        if batch:
            await self._publish_batch(batch)

    async def _publish_batch(self, batch: list[bytes]) -> None:
        try:
            await self._publish(encode_event_batch(batch))
        except P2PError as exc:  # blocks will carry the events all the same
            log.warning("could not gossip %d events: %s", len(batch), exc.message)
