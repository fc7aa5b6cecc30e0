"""The node on the network: handshakes, reconnection, gossip, sync and content, wired together.

Peers exchange a ``Status`` when they connect and every few seconds after; one on
another genesis is dropped at once. Bootstrap peers are redialled with backoff
whenever they are gone. Events the node admits and blocks it produces are gossiped;
gossiped blocks that extend the head are imported, and a peer that is ahead triggers
sync. Content of newly registered assets is replicated when the config says so.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from libp2p.crypto.keys import KeyPair

from protocol.blocks import Block, CompactBlock, encode_compact_block
from protocol.errors import ProtocolError
from protocol.evidence import Equivocation, decode_equivocation
from protocol.events import AssetRegister, Event, decode_event

from ..config import P2PConfig
from node.chain.importer import BlockImporter, UnknownParent
from node.chain.intake import EventIntake
from node.chain.ledger import HeadChange, Ledger
from node.chain.mempool import Mempool
from .sync import Syncer
from . import messages
from .block_assembly import BlockAssembler
from .content_exchange import ContentExchange, FetchError
from .gossip import (
    ChildrenSeen,
    EventBatcher,
    Validated,
    VerifiedEvents,
    block_validator,
    event_batch_validator,
    evidence_validator,
    validated_block,
    validated_events,
)
from .host import MAX_FRAME, P2PError, P2PHost
from .peers import PENALTY_INVALID_GOSSIP, PeerBook

log = logging.getLogger("audiera.network")

STATUS_INTERVAL_S = 2.0
HANDSHAKE_TIMEOUT_S = 5.0
RECONNECT_MIN_S = 0.5
"""py-libp2p needs a gap after a peer restarts before pubsub recovers (LIBP2P.md)."""
RECONNECT_MAX_S = 15.0
STARTUP_GRACE_S = 3.0
"""How long an authority waits at start to hear its peers' heads before signing (they are
greeted on connect, and dialled within a second of start)."""


class NetworkService:
    def __init__(
        self,
        config: P2PConfig,
        key_pair: KeyPair,
        ledger: Ledger,
        intake: EventIntake,
        mempool: Mempool,
        importer: BlockImporter,
        content: Any,
        *,
        replicate: bool,
        max_content_bytes: int,
    ) -> None:
        self._config = config
        self._ledger = ledger
        self._intake = intake
        self._mempool = mempool
        self._importer = importer
        self._replicate = replicate
        self._key_pair = key_pair
        self.host = P2PHost(key_pair, config.listen)
        self.peers = PeerBook()
        self._event_queue: asyncio.Queue = asyncio.Queue()
        self._block_queue: asyncio.Queue = asyncio.Queue()
        self._evidence_queue: asyncio.Queue = asyncio.Queue()
        self._validated = Validated()
        self._verified = VerifiedEvents()
        """Events the validators checked, until the mempool or a block takes them."""
        self.children_seen = ChildrenSeen()
        """Parents of blocks seen in flight on gossip (the producer does not compete with them)."""
        self._stopping = False
        tag = messages.network_tag(ledger.genesis.hash)
        self._sync_protocol = messages.sync_protocol(tag)
        self._content_protocol = messages.content_protocol(tag)
        self._events_protocol = messages.events_protocol(tag)
        self._events_by_id_protocol = messages.events_by_id_protocol(tag)
        self._events_topic = messages.events_topic(tag)
        self._blocks_topic = messages.blocks_topic(tag)
        self._evidence_topic = messages.evidence_topic(tag)
        self.syncer = Syncer(ledger, importer, self.peers, self._sync_request, self.penalize, self._known_event)
        self.assembler = BlockAssembler(
            self._known_event,
            self._stored_event,
            lambda peer, request: self.host.request(peer, self._events_by_id_protocol, request),
            lambda: self.host.peers(),
            self.penalize,
        )
        self.content = ContentExchange(content, self._content_request, self.penalize, lambda: self.host.peers(), max_content_bytes)
        self._batcher = EventBatcher(lambda data: self.host.publish(self._events_topic, data))
        self._replication: asyncio.Queue[str] = asyncio.Queue()
        self.peering = True
        """While False, the node holds no connections: an operator's switch (and the tests' partitions)."""
        self._started_at: float | None = None
        self.only: frozenset[str] | None = None
        """While set, the only peers the node keeps connections with (to split a testnet in parts)."""

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        host = self.host
        await host.start()
        loop = asyncio.get_running_loop()
        if self._started_at is None:
            self._started_at = loop.time()
        banned = self.peers.banned

        def strike(peer: str, reason: str) -> None:  # from the network thread
            loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self.penalize(peer, PENALTY_INVALID_GOSSIP, reason)))

        await host.serve(messages.STATUS_PROTOCOL, self._serve_status)
        await host.serve(self._sync_protocol, self._serve_sync)
        await host.serve_pipelined(self._content_protocol, self.content.serve)
        await host.serve(self._events_protocol, self._serve_events)
        await host.serve(self._events_by_id_protocol, self.assembler.serve)
        await host.serve_perf()
        included = self._ledger.chain.has_event  # LevelDB reads are safe from the network thread
        events_validator = event_batch_validator(strike, banned, self._validated, self._known_event, included, self._verified)
        blocks_validator = block_validator(
            strike, banned, lambda: self._ledger.authorities, self._validated, self._known_event, self.children_seen
        )
        await host.subscribe(self._events_topic, events_validator, self._event_queue)
        await host.subscribe(self._blocks_topic, blocks_validator, self._block_queue)
        await host.subscribe(self._evidence_topic, evidence_validator(strike, banned, self._validated), self._evidence_queue)
        host.on_connected(self._on_connected)
        host.on_disconnected(self.peers.disconnected)
        log.info("p2p listening on %s", ", ".join(host.addresses))

    async def run(self) -> None:
        """Everything the network does until cancelled; raises if the network thread dies."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._watch_host())
            tasks.create_task(self._reconnect_loop())
            tasks.create_task(self._status_loop())
            tasks.create_task(self.syncer.run())
            tasks.create_task(self._batcher.run())
            tasks.create_task(self._consume_events())
            tasks.create_task(self._consume_blocks())
            tasks.create_task(self._consume_evidence())
            tasks.create_task(self._replicate_loop())

    async def stop(self) -> None:
        self._stopping = True
        await self.host.stop()

    async def _watch_host(self) -> None:
        """Restart networking if py-libp2p's thread dies: a peer must never take the node down."""
        while True:
            assert self.host.stopped is not None
            try:
                await asyncio.shield(self.host.stopped)
                reason = "it stopped"
            except BaseException as exc:  # whatever killed the network thread
                if isinstance(exc, asyncio.CancelledError):
                    raise
                reason = repr(exc)
            if self._stopping:
                return
            log.error("the network failed (%s); restarting it", reason)
            await asyncio.sleep(RECONNECT_MIN_S)
            self.host = P2PHost(self._key_pair, self._config.listen)
            await self.start()

    # --- what the rest of the node calls ------------------------------------------------------

    def announce_event(self, raw_event: bytes) -> None:
        self._batcher.add(raw_event)

    def announce_block(self, block: Block) -> None:
        asyncio.ensure_future(self._publish_block(block))

    def announce_evidence(self, evidence: Equivocation) -> None:
        asyncio.ensure_future(self._publish(self._evidence_topic, evidence.encode(), "evidence"))

    def on_head_change(self, change: HeadChange) -> None:
        """Ledger listener: queue the content of new assets for replication."""
        if not self._replicate:
            return
        for block in change.applied:
            for event in block.events:
                if isinstance(event.body, AssetRegister):
                    self._replication.put_nowait(event.body.cid)

    def ready_to_produce(self) -> bool:
        """Whether an authority may sign now: not while catching up, nor at start before it has
        heard its peers' heads (it would sign stale blocks at heights the network has passed)."""
        if self.syncer.syncing:
            return False
        if not self._config.bootstrap:
            return True
        started = self._started_at
        return started is not None and asyncio.get_running_loop().time() - started >= STARTUP_GRACE_S

    def status_json(self) -> dict[str, Any]:
        return {"peer_id": self.host.peer_id, "addresses": self.host.addresses, "peers": self.host.peers()}

    async def set_peering(self, enabled: bool, only: frozenset[str] | None = None) -> None:
        """Cut the node off from every peer (or from all but ``only``), or let it reconnect."""
        self.peering, self.only = enabled, only
        await asyncio.gather(*(self._disconnect(peer) for peer in self.host.peers() if not self._allowed(peer)))
        if not enabled:
            log.warning("peering disabled: the node is cut off from its peers")
        else:
            log.warning("peering enabled%s", "" if only is None else f" with only {sorted(only)}")

    def _allowed(self, peer: str) -> bool:
        return self.peering and peer not in self.peers.banned and (self.only is None or peer in self.only)

    async def _disconnect(self, peer: str) -> None:
        try:
            await self.host.disconnect(peer)
        except P2PError as exc:
            log.debug("disconnecting %s: %s", peer, exc.message)

    async def penalize(self, peer: str, penalty: int, reason: str) -> None:
        if self.peers.penalize(peer, penalty, reason):
            log.warning("banning peer %s: %s", peer, reason)
            try:
                await self.host.blacklist(peer)
            except P2PError as exc:
                log.warning("could not drop peer %s: %s", peer, exc.message)

    # --- status and handshake ------------------------------------------------------------

    def _our_status(self) -> messages.Status:
        head, final = self._ledger.head, self._ledger.finalized
        return messages.Status(
            network_id=self._ledger.genesis.network_id,
            genesis=self._ledger.genesis.hash,
            head_height=head.height,
            head_hash=head.hash,
            total_difficulty=self._ledger.head_difficulty,
            finalized_height=final.height,
            finalized_hash=final.hash,
        )

    async def _serve_status(self, peer: str, request: bytes) -> bytes:
        theirs = messages.decode_status(request)
        if self._accept_status(peer, theirs):
            self.syncer.poke()
        return self._our_status().encode()

    def _accept_status(self, peer: str, status: messages.Status) -> bool:
        if status.genesis != self._ledger.genesis.hash:
            log.warning(
                "peer %s is on network %r (genesis %s…), not ours: dropping it",
                peer, status.network_id, status.genesis.hex()[:16],
            )
            asyncio.ensure_future(self._drop_foreign(peer))
            return False
        self.peers.set_status(peer, status)
        return True

    async def _drop_foreign(self, peer: str) -> None:
        self.peers.banned.add(peer)
        try:
            await self.host.blacklist(peer)
        except P2PError:
            pass

    async def _exchange_status(self, peer: str) -> bool:
        try:
            answer = await self.host.request(
                peer, messages.STATUS_PROTOCOL, self._our_status().encode(), timeout=HANDSHAKE_TIMEOUT_S
            )
            status = messages.decode_status(answer)
        except P2PError as exc:
            log.debug("status exchange with %s failed: %s", peer, exc.message)
            return False
        except ProtocolError as exc:
            await self.penalize(peer, PENALTY_INVALID_GOSSIP, f"malformed status: {exc.message}")
            return False
        if self._accept_status(peer, status):
            self.syncer.poke()
            return True
        return False

    async def _greet(self, peer: str) -> None:
        """First contact: exchange status, then hand over the events waiting here."""
        if await self._exchange_status(peer):
            await self._share_waiting_events(peer)

    async def _share_waiting_events(self, peer: str) -> None:
        waiting = [event.raw for event in self._mempool.waiting_events()]
        for start in range(0, len(waiting), messages.MAX_EVENT_BATCH):
            batch = messages.encode_event_batch(waiting[start:start + messages.MAX_EVENT_BATCH])
            try:
                await self.host.request(peer, self._events_protocol, batch)
            except P2PError as exc:
                log.debug("handing waiting events to %s failed: %s", peer, exc.message)
                return

    async def _serve_events(self, peer: str, request: bytes) -> bytes:
        if self.syncer.far_behind:
            return b""  # as for gossiped events while catching up
        try:
            events = [decode_event(raw) for raw in messages.decode_event_batch(request)]
        except ProtocolError as exc:
            await self.penalize(peer, PENALTY_INVALID_GOSSIP, f"invalid event hand-over: {exc.message}")
            return b""
        for event in events:
            try:
                self._intake.submit_event(event)
            except ProtocolError:
                pass  # known, included, or refused by our state
        return b""

    def _on_connected(self, peer: str) -> None:
        if peer in self.peers.banned:
            asyncio.ensure_future(self._drop_foreign(peer))
            return
        if not self._allowed(peer):
            asyncio.ensure_future(self._disconnect(peer))
            return
        self.peers.connected(peer)
        asyncio.ensure_future(self._greet(peer))

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(STATUS_INTERVAL_S)
            # A dial already under way when a peer was banned (or peering was switched off)
            # can still complete: sweep such connections here.
            unwanted = [peer for peer in self.host.peers() if not self._allowed(peer)]
            await asyncio.gather(*(self._disconnect(peer) for peer in unwanted))
            wanted = [peer for peer in self.host.peers() if peer not in unwanted]
            await asyncio.gather(*(self._exchange_status(peer) for peer in wanted))

    async def _reconnect_loop(self) -> None:
        """Keep every bootstrap peer connected, redialling with backoff while it is away."""
        wanted = {}
        for address in self._config.bootstrap:
            peer = address.rsplit("/p2p/", 1)[-1]
            wanted[peer] = address
        delay = {peer: RECONNECT_MIN_S for peer in wanted}
        next_try = {peer: 0.0 for peer in wanted}
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.25)
            if not self.peering:
                continue
            connected = set(self.host.peers())
            now = loop.time()
            for peer, address in wanted.items():
                if peer in connected or not self._allowed(peer) or peer == self.host.peer_id:
                    delay[peer] = RECONNECT_MIN_S
                    next_try[peer] = max(next_try[peer], now + RECONNECT_MIN_S)
                    continue
                if now < next_try[peer]:
                    continue
                try:
                    await asyncio.wait_for(self.host.connect(address), timeout=HANDSHAKE_TIMEOUT_S)
                    log.info("connected to %s", peer)
                    delay[peer] = RECONNECT_MIN_S
                except (P2PError, asyncio.TimeoutError) as exc:
                    log.debug("dialing %s failed: %r", address, exc)
                    delay[peer] = min(delay[peer] * 2, RECONNECT_MAX_S)
                next_try[peer] = now + delay[peer] * random.uniform(0.8, 1.2)

    # --- gossip -------------------------------------------------------------------------

    async def _publish_block(self, block: Block) -> None:
        await self._batcher.flush()  # our waiting events first: peers then hold the whole block
        await self._publish(self._blocks_topic, encode_compact_block(block), f"block {block.height}")

    def _known_event(self, event_id: bytes) -> Event | None:
        """A verified event by id: waiting in the mempool or seen on gossip lately (any thread)."""
        return self._mempool.verified(event_id) or self._verified.get(event_id)

    def _stored_event(self, event_id: bytes) -> bytes | None:
        stored = self._ledger.chain.get_event(event_id)
        return None if stored is None else stored.raw

    async def _publish(self, topic: str, data: bytes, what: str) -> None:
        try:
            await self.host.publish(topic, data)
        except P2PError as exc:
            log.warning("could not gossip %s: %s", what, exc.message)

    async def _consume_events(self) -> None:
        while True:
            message = await self._event_queue.get()
            if self.syncer.far_behind:
                # Judged on a state blocks behind, they would mostly fail or wait, and each
                # block synced would re-apply them all (a fresh node took a chain's last
                # seconds of gossip into its mempool and caught up at half speed). The
                # peers that are in step include them; the chain brings them here.
                continue
            for event in validated_events(self._validated, message.data):
                try:
                    self._intake.submit_event(event)
                except ProtocolError:
                    pass  # already known, already included, or refused by our state: not the sender's fault

    async def _consume_blocks(self) -> None:
        while True:
            message = await self._block_queue.get()
            block = validated_block(self._validated, message.data)
            if isinstance(block, CompactBlock):
                assembled = await self.assembler.complete(block, message.peer)
                if assembled is None:
                    asyncio.ensure_future(self._exchange_status(message.peer))  # sync will fetch it whole
                    continue
                block = assembled
            try:
                self._importer.import_block(block)
            except UnknownParent:
                # A branch we lack (or a gap): learn the sender's head and let sync fetch it.
                asyncio.ensure_future(self._exchange_status(message.peer))
            except ProtocolError as exc:
                # Not the forwarder's fault: it relays what is well signed by an authority,
                # as we do; whether a block fits the chain is known only on import.
                log.warning("gossiped block %d from %s refused: %s", block.height, message.peer, exc.message)

    async def _consume_evidence(self) -> None:
        while True:
            message = await self._evidence_queue.get()
            evidence = self._validated.take(message.data) or decode_equivocation(message.data)
            self._importer.record_evidence(evidence)

    # --- request/response clients ------------------------------------------------------------

    async def _sync_request(self, peer: str, request: bytes) -> bytes:
        return await self.host.request(peer, self._sync_protocol, request)

    async def _content_request(self, peer: str, request: bytes) -> bytes:
        return await self.host.request_pipelined(peer, self._content_protocol, request)

    async def _serve_sync(self, peer: str, request: bytes) -> bytes:
        decoded = messages.decode_sync_request(request)
        chain = self._ledger.chain
        raw_blocks: list[bytes] = []
        if isinstance(decoded, messages.BlockByHash):
            raw = chain.get_block_raw(decoded.hash)
            raw_blocks = [raw] if raw is not None else []
        else:
            budget = MAX_FRAME - 64 * 1024  # room for framing
            stop = decoded.start + decoded.count
            for _, block_hash in chain.iter_canonical(decoded.start, stop):
                raw = chain.get_block_raw(block_hash)
                if raw is None or budget - len(raw) < 0:
                    break
                budget -= len(raw) + 8
                raw_blocks.append(raw)
        return messages.encode_blocks(raw_blocks)

    async def _replicate_loop(self) -> None:
        while True:
            cid = await self._replication.get()
            for attempt in range(5):
                try:
                    await self.content.fetch(cid)
                    break
                except (FetchError, P2PError) as exc:
                    log.info("replicating %s, attempt %d: %s", cid, attempt + 1, exc.message)
                    await asyncio.sleep(2**attempt)

