"""Gossip handling: the topics' validators and consumers, publishing, and event batching.

Events the node admits and blocks it produces are gossiped; gossiped blocks are
imported, and one that does not connect makes the node ask its sender's status (sync
then fetches the branch). Validation itself is in ``gossip_validation``; this module
feeds it a fresh ``ChainView`` on every head change.

Outgoing events are batched: py-libp2p spends its time per message, not per byte, so
one message of many events carries far more events per second than many messages.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from protocol.blocks import Block, CompactBlock, encode_compact_block
from protocol.errors import ProtocolError
from protocol.evidence import Equivocation, VoteEvidence, decode_evidence
from protocol.events import Event, decode_event
from protocol.votes import Vote, encode_vote

from node.bounded_cache import BoundedCache, BoundedSet
from node.chain.importer import BlockImporter, UnknownParent
from node.chain.intake import EventIntake
from node.chain.ledger import HeadChange, Ledger
from node.chain.liveness import AuthorityLiveness
from node.chain.mempool import Mempool
from node.chain.vote_pool import VotePool

from . import messages
from .block_assembly import BlockAssembler
from .gossip_validation import (
    MAX_BATCH_BYTES,
    RECENT_BLOCKS,
    BlocksInFlight,
    ChainView,
    CurrentView,
    Decoded,
    Validator,
    VerifiedEvents,
    block_validator,
    event_batch_validator,
    evidence_validator,
    ignore,
    validated_block,
    validated_events,
    validated_vote,
    vote_validator,
)
from .host import Message, P2PError, P2PHost
from .peering import STATUS_INTERVAL_S, PeerManager
from .peers import PENALTY_INVALID_GOSSIP
from .sync import Syncer
from .tasks import OwnedTasks
from .traffic import TrafficCounters

log = logging.getLogger("audiera.gossip")

IGNORE_BANNED = ignore("the forwarder is banned")
BATCH_WINDOW_S = 0.1
"""How long the first event of a batch waits for company."""


class GossipHandler:
    def __init__(
        self,
        host: P2PHost,
        ledger: Ledger,
        intake: EventIntake,
        mempool: Mempool,
        importer: BlockImporter,
        peers: PeerManager,
        syncer: Syncer,
        tasks: OwnedTasks,
        votes: VotePool,
        liveness: AuthorityLiveness,
        traffic: TrafficCounters,
    ) -> None:
        self._host = host
        self._votes = votes
        self._liveness = liveness
        self._traffic = traffic
        self._ledger = ledger
        self._intake = intake
        self._mempool = mempool
        self._importer = importer
        self._peers = peers
        self._syncer = syncer
        self._tasks = tasks
        tag = messages.network_tag(ledger.genesis.hash)
        self._events_protocol = messages.events_protocol(tag)
        self._events_by_id_protocol = messages.events_by_id_protocol(tag)
        self._events_topic = messages.events_topic(tag)
        self._blocks_topic = messages.blocks_topic(tag)
        self._evidence_topic = messages.evidence_topic(tag)
        self._votes_topic = messages.votes_topic(tag)
        self._vote_queue: asyncio.Queue[Message] = asyncio.Queue()
        self._seen_votes = BoundedSet[bytes](8192)
        """Votes the validator passed or held (touched only on the network thread)."""
        self._event_queue: asyncio.Queue[Message] = asyncio.Queue()
        self._block_queue: asyncio.Queue[Message] = asyncio.Queue()
        self._evidence_queue: asyncio.Queue[Message] = asyncio.Queue()
        self._decoded = Decoded()
        self._verified = VerifiedEvents()
        """Events the validators checked, until the mempool or a block takes them."""
        self.in_flight = BlocksInFlight()
        """Blocks seen on gossip, not yet imported (the producer does not compete with them)."""
        self._recent = BoundedSet[bytes](RECENT_BLOCKS)
        self._status_asked: BoundedCache[str, float] = BoundedCache(1024)
        """When each peer was last asked its status after a block we could not place."""
        self._view = CurrentView(self._view_of_head())
        self.assembler = BlockAssembler(
            self.known_event,
            self._stored_event,
            lambda peer, request: host.request(peer, self._events_by_id_protocol, request),
            host.peers,
            peers.penalize,
        )
        self._batcher = EventBatcher(lambda data: host.publish(self._events_topic, data))
        peers.on_handshake(lambda peer: tasks.start_soon(self._share_waiting_events(peer)))

    async def start(self) -> None:
        """Serve the events protocols and subscribe to the topics (again after a host restart)."""
        host = self._host
        loop = asyncio.get_running_loop()

        def strike(peer: str, reason: str) -> None:  # from the network thread
            loop.call_soon_threadsafe(self._peers.strike, peer, reason)

        banned = self._peers.book.banned

        def unless_banned(validate: Validator) -> Validator:
            return lambda peer, data: IGNORE_BANNED if peer in banned else validate(peer, data)

        included = self._ledger.chain.has_event  # a LevelDB read: safe from the network thread
        events = event_batch_validator(self._decoded, self._verified.get, included, self._verified)
        def maybe_behind(peer: str) -> None:  # from the network thread
            loop.call_soon_threadsafe(self._ask_status, peer)

        blocks = block_validator(
            self._view, self._decoded, self._verified.get, self.in_flight, maybe_behind, self._liveness.heard
        )
        await host.serve(self._events_protocol, self._serve_events)
        await host.serve(self._events_by_id_protocol, self.assembler.serve)
        counted = self._traffic.counted
        await host.subscribe(self._events_topic, counted("events", unless_banned(events)), self._event_queue, strike)
        await host.subscribe(self._blocks_topic, counted("blocks", unless_banned(blocks)), self._block_queue, strike)
        evidence = unless_banned(evidence_validator(self._decoded))
        await host.subscribe(self._evidence_topic, counted("evidence", evidence), self._evidence_queue, strike)

        def hold(vote: Vote) -> None:  # from the network thread
            loop.call_soon_threadsafe(self._votes.add, vote)

        votes = vote_validator(self._view, self._decoded, self.in_flight, self._seen_votes, hold)
        await host.subscribe(self._votes_topic, counted("votes", unless_banned(votes)), self._vote_queue, strike)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._batcher.run(), name="event batcher")
            tasks.create_task(self._consume_events(), name="event gossip")
            tasks.create_task(self._consume_blocks(), name="block gossip")
            tasks.create_task(self._consume_evidence(), name="evidence gossip")
            tasks.create_task(self._consume_votes(), name="vote gossip")

    # --- the chain view validators judge by -------------------------------------------------

    def _view_of_head(self) -> ChainView:
        ledger = self._ledger
        head = ledger.head
        if not len(self._recent):
            for _, block_hash in ledger.chain.iter_canonical(max(0, head.height - RECENT_BLOCKS + 1), head.height + 1):
                self._recent.add(block_hash)
        self._recent.add(head.hash)
        self._recent.add(ledger.genesis.hash)
        return ChainView(head.height, head.hash, frozenset(ledger.authorities), self._recent.frozen(), ledger.finalized.height)

    def on_head_change(self, change: HeadChange) -> None:
        """Ledger listener: validators judge by the new head from now on."""
        for block in change.applied:
            self._recent.add(block.hash)
        self._view.publish(self._view_of_head())

    def _ask_status(self, peer: str) -> None:
        """Learn the head of a peer that relayed a block we cannot place, at most once a status interval."""
        now = asyncio.get_running_loop().time()
        asked = self._status_asked.get(peer)
        if asked is not None and now - asked < STATUS_INTERVAL_S:
            return
        self._status_asked.put(peer, now)
        self._tasks.start_soon(self._peers.exchange_status(peer))

    # --- publishing -----------------------------------------------------------------------

    def announce_event(self, raw_event: bytes) -> None:
        self._batcher.add(raw_event)

    def announce_block(self, block: Block) -> None:
        self._tasks.start_soon(self._publish_block(block))

    def announce_evidence(self, evidence: Equivocation | VoteEvidence) -> None:
        self._tasks.start_soon(self._publish(self._evidence_topic, evidence.encode(), "evidence"))

    def announce_vote(self, vote: Vote) -> None:
        self._tasks.start_soon(self._publish(self._votes_topic, encode_vote(vote), f"vote for block {vote.target_height}"))

    async def _publish_block(self, block: Block) -> None:
        await self._batcher.flush()  # our waiting events first: peers then hold the whole block
        await self._publish(self._blocks_topic, encode_compact_block(block), f"block {block.height}")

    async def _publish(self, topic: str, data: bytes, what: str) -> None:
        try:
            await self._host.publish(topic, data)
        except P2PError as exc:
            log.warning("could not gossip %s: %s", what, exc.message)

    # --- events by id, and handed over -----------------------------------------------------

    def known_event(self, event_id: bytes) -> Event | None:
        """A verified event by id: waiting in the mempool or seen on gossip lately (asyncio loop)."""
        return self._mempool.verified(event_id) or self._verified.get(event_id)

    def _stored_event(self, event_id: bytes) -> bytes | None:
        stored = self._ledger.chain.get_event(event_id)
        return None if stored is None else stored.raw

    async def _share_waiting_events(self, peer: str) -> None:
        """Hand a newly met peer the events waiting here."""
        waiting = [event.raw for event in self._mempool.waiting_events()]
        for start in range(0, len(waiting), messages.MAX_EVENT_BATCH):
            batch = messages.encode_event_batch(waiting[start:start + messages.MAX_EVENT_BATCH])
            try:
                await self._host.request(peer, self._events_protocol, batch)
            except P2PError as exc:
                log.debug("handing waiting events to %s failed: %s", peer, exc.message)
                return

    async def _serve_events(self, peer: str, request: bytes) -> bytes:
        if self._syncer.far_behind:
            return b""  # as for gossiped events while catching up
        try:
            events = [decode_event(raw) for raw in messages.decode_event_batch(request)]
        except ProtocolError as exc:
            await self._peers.penalize(peer, PENALTY_INVALID_GOSSIP, f"invalid event hand-over: {exc.message}")
            return b""
        self._submit(events)
        return b""

    def _submit(self, events: list[Event]) -> None:
        for event in events:
            try:
                self._intake.submit_event(event)
            except ProtocolError:
                pass  # already known, already included, or refused by our state: not the sender's fault

    # --- consumers ------------------------------------------------------------------------

    async def _consume_events(self) -> None:
        while True:
            message = await self._event_queue.get()
            if self._syncer.far_behind:
                # Judged on a state blocks behind, they would mostly fail or wait, and each
                # block synced would re-apply them all (a fresh node took a chain's last
                # seconds of gossip into its mempool and caught up at half speed). The
                # peers that are in step include them; the chain brings them here.
                continue
            self._submit(validated_events(self._decoded, message.data))

    async def _consume_blocks(self) -> None:
        while True:
            message = await self._block_queue.get()
            block = validated_block(self._decoded, message.data)
            if isinstance(block, CompactBlock):
                assembled = await self.assembler.complete(block, message.peer)
                if assembled is None:
                    self._tasks.start_soon(self._peers.exchange_status(message.peer))  # sync will fetch it whole
                    continue
                block = assembled
            try:
                self._importer.import_block(block)
            except UnknownParent:
                # A branch we lack (or a gap): learn the sender's head and let sync fetch it.
                self._tasks.start_soon(self._peers.exchange_status(message.peer))
            except ProtocolError as exc:
                # Not the forwarder's fault: it relays what is well signed by an authority,
                # as we do; whether a block fits the chain is known only on import.
                log.warning("gossiped block %d from %s refused: %s", block.height, message.peer, exc.message)

    async def _consume_evidence(self) -> None:
        while True:
            message = await self._evidence_queue.get()
            evidence = self._decoded.take(message.data) or decode_evidence(message.data)
            if isinstance(evidence, VoteEvidence):
                self._votes.record_evidence(evidence)
            else:
                self._importer.record_evidence(evidence)

    async def _consume_votes(self) -> None:
        while True:
            message = await self._vote_queue.get()
            vote = validated_vote(self._decoded, message.data)
            self._liveness.heard(vote.voter)  # an authority that votes is up, however slow its blocks
            self._votes.add(vote)


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
            if batch and (len(batch) >= messages.MAX_EVENT_BATCH or size + len(raw) + 5 > MAX_BATCH_BYTES):
                await self._publish_batch(batch)
                batch, size = [], 0
            batch.append(raw)
            size += len(raw) + 5
        if batch:
            await self._publish_batch(batch)

    async def _publish_batch(self, batch: list[bytes]) -> None:
        try:
            await self._publish(messages.encode_event_batch(batch))
        except P2PError as exc:  # blocks will carry the events all the same
            log.warning("could not gossip %d events: %s", len(batch), exc.message)
