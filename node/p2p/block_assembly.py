"""Turning a gossiped compact block (header and event ids) back into a block.

Gossip carries blocks without their events: peers hold nearly all of them already,
from event gossip. What a node lacks it asks for by id (``/audiera/<net>/events-by-id/1``),
first from the peer that published the block (its proposer's node, which holds
them all), then from its other peers; every event
it gets is decoded and its signature checked like any other from the network, and
only the ids asked for are taken. The same protocol serves this node's events to peers.
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable

from protocol.blocks import MAX_BLOCK_BYTES, Block, CompactBlock
from protocol.errors import ProtocolError
from protocol.events import Event, decode_event

from . import messages
from .host import P2PError
from .peers import PENALTY_BAD_RESPONSE

log = logging.getLogger("audiera.network")

Request = Callable[[str, bytes], Awaitable[bytes]]
"""(peer, request bytes) -> response bytes, on the events-by-id protocol."""
Penalize = Callable[[str, int, str], Awaitable[None]]


class BlockAssembler:
    def __init__(
        self,
        known_events: Callable[[bytes], Event | None],
        stored_event: Callable[[bytes], bytes | None],
        request: Request,
        peers: Callable[[], list[str]],
        penalize: Penalize,
    ) -> None:
        self._known = known_events
        self._stored = stored_event
        self._request = request
        self._peers = peers
        self._penalize = penalize

    async def complete(self, compact: CompactBlock, published_by: str) -> Block | None:
        """The whole block, or None if no peer could supply every missing event."""
        found: dict[bytes, Event] = {}
        missing = []
        for event_id in compact.event_ids:
            event = self._known(event_id) or self._from_chain(event_id)
            if event is None:
                missing.append(event_id)
            else:
                found[event_id] = event
        others = [peer for peer in self._peers() if peer != published_by]
        for peer in [published_by, *others]:
            if not missing:
                break
            for event in await self._fetch(peer, missing):
                found[event.id] = event
            missing = [event_id for event_id in missing if event_id not in found]
        if missing:
            log.info("block %d %s: %d of its events are on no peer we asked", compact.height, compact.hash.hex()[:12], len(missing))
            return None
        return compact.assemble([found[event_id] for event_id in compact.event_ids])

    def _from_chain(self, event_id: bytes) -> Event | None:
        """An event this node already holds in a block: a competing block at the same height
        carries mostly the events of ours, which left the mempool when ours was made. Asking
        peers for them cost seconds under load, while both branches waited to be compared."""
        raw = self._stored(event_id)
        # Stored events were verified on their way in, and decoding checks the id again.
        return None if raw is None else decode_event(raw, verify=False)

    async def _fetch(self, peer: str, wanted: list[bytes]) -> list[Event]:
        try:
            answer = await self._request(peer, messages.encode_event_ids(wanted))
        except P2PError as exc:
            log.debug("asking %s for %d events failed: %s", peer, len(wanted), exc.message)
            return []
        wanted_set = set(wanted)
        events = []
        try:
            for raw in messages.decode_found_events(answer):
                event = decode_event(raw)
                if event.id in wanted_set:
                    events.append(event)
        except ProtocolError as exc:
            await self._penalize(peer, PENALTY_BAD_RESPONSE, f"invalid events by id: {exc.message}")
            return []
        return events

    async def serve(self, peer: str, request: bytes) -> bytes:
        """The events asked for that this node holds (waiting, recently seen or on chain)."""
        try:
            wanted = messages.decode_event_ids(request)
        except ProtocolError as exc:
            await self._penalize(peer, PENALTY_BAD_RESPONSE, f"invalid events-by-id request: {exc.message}")
            return b""
        found, size = [], 0
        for event_id in wanted:
            event = self._known(event_id)
            raw = event.raw if event is not None else self._stored(event_id)
            if raw is None:
                continue
            if size + len(raw) + 5 > MAX_BLOCK_BYTES:
                break  # the rest on another request: a block's events fit in one block's bytes
            found.append(raw)
            size += len(raw) + 5
        return messages.encode_found_events(found)
