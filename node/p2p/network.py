"""The node on the network: the parts wired together, and the narrow view the rest of the node gets.

The parts, each in its own module: peer management (``peering``: handshakes, scores,
the peering switch), finding and dialling peers (``discovery``, ``address_book``), gossip handling (``gossip``), sync (``sync`` to catch up,
``sync_server`` to serve), content (``content_exchange`` to fetch, ``content_server`` to
serve, ``replication``), all over
one ``P2PHost``. ``Network`` builds them, runs them in one task group, restarts the
host if its thread dies, and offers the RPC and the daemon a small facade.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from libp2p.crypto.keys import KeyPair

from protocol.keys import SigningKey

from protocol.blocks import Block
from protocol.evidence import Equivocation, VoteEvidence
from protocol.releases import KeyRelease
from protocol.votes import Vote
from storage.content import ContentInfo, ContentStore
from storage.releases import ReleaseStore

from ..config import P2PConfig
from node.chain.importer import BlockImporter
from node.chain.intake import EventIntake
from node.chain.ledger import FinalityChange, HeadChange, Ledger
from node.chain.liveness import AuthorityLiveness
from node.chain.mempool import Mempool
from node.chain.vote_pool import VotePool

from . import messages
from .content_exchange import AssetFacts, ContentExchange, FetchError
from .content_server import ContentServer
from .gossip import GossipHandler
from .host import MAX_PERF_BYTES, P2PError, P2PHost, is_peer_id
from .address_book import DIAL_BACKOFF_MIN_S, AddressBook
from .discovery import Discovery
from .genesis_exchange import serve_genesis
from .identity import peer_id_of
from .peering import PeerManager
from .release_gossip import ReleaseGossip
from .replication import Replicator
from .sync import Syncer
from .sync_server import SyncServer
from .tasks import OwnedTasks
from .traffic import TrafficCounters

log = logging.getLogger("audiera.network")

STARTUP_GRACE_S = 3.0
"""How long an authority waits at start to hear its peers' heads before signing (they are
greeted on connect, and dialled within a second of start)."""


@dataclass(frozen=True)
class NetworkStatus:
    peer_id: str
    addresses: tuple[str, ...]
    peers: tuple[str, ...]
    """Connected peers' ids."""
    syncing: bool
    peering: bool
    peering_only: tuple[str, ...] | None
    """While set, the only peers the node keeps connections with."""


@dataclass(frozen=True)
class SyncStatus:
    syncing: bool
    target_height: int
    best_peer: str | None


class Network:
    def __init__(
        self,
        config: P2PConfig,
        key_pair: KeyPair,
        ledger: Ledger,
        intake: EventIntake,
        mempool: Mempool,
        importer: BlockImporter,
        content: ContentStore,
        votes: VotePool,
        releases: ReleaseStore,
        *,
        replicate: bool,
        max_content_bytes: int,
        liveness: AuthorityLiveness,
        authority_key: SigningKey | None = None,
        peers_file: Path | None = None,
    ) -> None:
        self._config = config
        self._ledger = ledger
        self._replicate = replicate
        self._host = host = P2PHost(key_pair, config.listen)
        self._tasks = OwnedTasks("network")
        self.traffic = traffic = TrafficCounters()
        """Gossip verdicts and sync and content bytes, for the RPC's metrics."""
        self._peers = PeerManager(host, ledger, self._tasks)
        tag = messages.network_tag(ledger.genesis.hash)
        self._discovery = Discovery(
            host, ledger, self._peers, AddressBook(peers_file, peer_id_of(key_pair)), config.bootstrap,
            tag=tag, authority_key=authority_key, target=config.target_peers,
        )
        self._sync_protocol = messages.sync_protocol(tag)
        self._content_protocol = messages.content_protocol(tag)
        self._syncer = Syncer(
            ledger,
            importer,
            self._peers.book,
            lambda peer, request: host.request(peer, self._sync_protocol, request),
            self._peers.penalize,
            lambda event_id: self._gossip.known_event(event_id),
            votes,
            traffic,
        )
        self._peers.on_status(lambda _: self._syncer.poke())
        self._gossip = GossipHandler(
            host, ledger, intake, mempool, importer, self._peers, self._syncer, self._tasks, votes, liveness, traffic
        )
        self._sync_server = SyncServer(ledger.chain, votes.votes_behind, traffic)
        self._releases = ReleaseGossip(host, ledger.chain, lambda: ledger.finalized, releases, tag, self._tasks)
        self._content = ContentExchange(
            content,
            lambda peer, request: host.request_pipelined(peer, self._content_protocol, request),
            self._peers.penalize,
            host.peers,
            max_content_bytes,
            spawn=self._tasks.create_task,
            traffic=traffic,
        )
        self._content_server = ContentServer(content, traffic)
        self._replicator = Replicator(self._content)
        self._stopping = False
        self._started_at: float | None = None

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        host = self._host
        await host.start()
        self._loop = asyncio.get_running_loop()
        if self._started_at is None:
            self._started_at = self._loop.time()
        await self._peers.serve()
        await self._discovery.serve()
        await serve_genesis(host, self._ledger.genesis)
        await host.serve(self._sync_protocol, self._sync_server.serve)
        await host.serve_pipelined(self._content_protocol, self._content_server.serve)
        await host.serve_perf()
        await self._gossip.start()
        await self._releases.start(self._strike_soon, lambda peer: peer in self._peers.book.banned)
        log.info("p2p listening on %s", ", ".join(host.addresses))

    async def run(self) -> None:
        """Everything the network does until cancelled; raises if a part fails."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._watch_host(), name="host watchdog")
            tasks.create_task(self._tasks.run(), name="network tasks")
            tasks.create_task(self._peers.run(), name="peers")
            tasks.create_task(self._discovery.run(), name="discovery")
            tasks.create_task(self._syncer.run(), name="sync")
            tasks.create_task(self._gossip.run(), name="gossip")
            tasks.create_task(self._replicator.run(), name="replication")
            tasks.create_task(self._releases.run(), name="key releases")

    async def stop(self) -> None:
        self._stopping = True
        await self._host.stop()

    async def _watch_host(self) -> None:
        """Restart networking if py-libp2p's thread dies: a peer must never take the node down."""
        while True:
            assert self._host.stopped is not None
            try:
                await asyncio.shield(self._host.stopped)
                reason = "it stopped"
            except BaseException as exc:  # whatever killed the network thread
                if isinstance(exc, asyncio.CancelledError):
                    raise
                reason = repr(exc)
            if self._stopping:
                return
            log.error("the network failed (%s); restarting it", reason)
            await asyncio.sleep(DIAL_BACKOFF_MIN_S)
            await self.start()

    # --- what the daemon wires ----------------------------------------------------------

    def announce_event(self, raw_event: bytes) -> None:
        self._gossip.announce_event(raw_event)

    def announce_block(self, block: Block) -> None:
        self._gossip.announce_block(block)

    def announce_evidence(self, evidence: Equivocation | VoteEvidence) -> None:
        self._gossip.announce_evidence(evidence)

    def announce_vote(self, vote: Vote) -> None:
        self._gossip.announce_vote(vote)

    def on_finality_change(self, change: FinalityChange) -> None:
        """Ledger listener: validators ignore votes at or below the new final block, and
        releases that waited on this node's finality are judged again."""
        self._gossip.on_head_change(HeadChange(applied=()))
        self._releases.on_finality()

    def announce_release(self, release: KeyRelease) -> None:
        self._releases.announce(release)

    def _strike_soon(self, peer: str, reason: str) -> None:  # from the network thread
        self._loop.call_soon_threadsafe(self._peers.strike, peer, reason)

    def on_head_change(self, change: HeadChange) -> None:
        """Ledger listener."""
        self._gossip.on_head_change(change)
        if self._replicate:
            self._replicator.on_head_change(change)

    def ready_to_produce(self) -> bool:
        """Whether an authority may sign now: not while catching up, nor at start before it has
        heard its peers' heads (it would sign stale blocks at heights the network has passed)."""
        if self._syncer.syncing:
            return False
        if not self._config.bootstrap:
            return True
        started = self._started_at
        return started is not None and asyncio.get_running_loop().time() - started >= STARTUP_GRACE_S

    def block_in_flight(self, parent: bytes) -> bool:
        """Whether a block on ``parent`` was seen on gossip lately (any thread)."""
        return self._gossip.in_flight.has_child_of(parent)

    # --- what the RPC reads and asks ------------------------------------------------------

    @property
    def peer_id(self) -> str:
        return self._host.peer_id

    def status(self) -> NetworkStatus:
        peers = self._peers
        only = peers.only
        return NetworkStatus(
            peer_id=self._host.peer_id,
            addresses=tuple(self._host.addresses),
            peers=tuple(self._host.peers()),
            syncing=self._syncer.syncing,
            peering=peers.peering,
            peering_only=None if only is None else tuple(sorted(only)),
        )

    def peers(self) -> list[dict[str, Any]]:
        """Connected peers with their heads, scores and recent strikes."""
        return [record.to_json() for record in self._peers.records()]

    def sync_status(self) -> SyncStatus:
        syncer = self._syncer
        best = syncer.best_peer()
        return SyncStatus(syncer.syncing, syncer.target_height, best.peer_id if best else None)

    async def fetch_content(self, cid: str, asset: AssetFacts | None = None) -> ContentInfo:
        """Fetch sealed content from peers and keep it here; raises FetchError."""
        return await self._content.fetch(cid, asset)

    async def set_peering(self, enabled: bool, only: frozenset[str] | None = None) -> None:
        await self._peers.set_peering(enabled, only)

    async def measure_stream(self, peer: str, size: int) -> float:
        """Seconds to receive ``size`` bytes from ``peer`` on one perf stream (it must have allowed us)."""
        return await self._host.measure_stream(peer, size)

    async def allow_perf(self, peer: str, max_bytes: int) -> None:
        """Let ``peer`` alone measure a stream from this node, up to ``max_bytes``, for a short while."""
        await self._host.allow_perf(peer, max_bytes)


__all__ = ["FetchError", "MAX_PERF_BYTES", "Network", "NetworkStatus", "P2PError", "SyncStatus", "is_peer_id"]
