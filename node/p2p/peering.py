"""Peer management: handshakes, scores and bans, and the operator's peering switch.

Peers exchange a ``Status`` when they connect and every few seconds after; one on
another genesis is dropped at once. Which peers to dial is ``discovery``'s job.

A peer that does not serve the status protocol (a libp2p tool, another program) is
logged once and kept for ``SILENT_PEER_GRACE_S`` without a handshake: its gossip is
judged like anyone's, and it is not asked again, so its failures never fill the log.
Then it is dropped: without a status it cannot show that it is on our network, nor
take part in sync, yet it holds a connection and gossip mesh slots. A status it sends
meanwhile makes it an ordinary peer; one that connects again starts afresh.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Coroutine

from protocol.errors import ProtocolError

from node.chain.ledger import Ledger

from . import messages
from .host import P2PError, P2PHost, UnsupportedProtocol
from .peers import PENALTY_INVALID_GOSSIP, PeerBook, PeerRecord
from .tasks import OwnedTasks

log = logging.getLogger("audiera.network")

STATUS_INTERVAL_S = 2.0
HANDSHAKE_TIMEOUT_S = 5.0
SILENT_PEER_GRACE_S = 10.0
"""How long a peer that does not speak the status protocol stays connected."""

PeerHook = Callable[[str], None]


class PeerManager:
    def __init__(self, host: P2PHost, ledger: Ledger, tasks: OwnedTasks) -> None:
        self._host = host
        self._ledger = ledger
        self._tasks = tasks
        self.book = PeerBook()
        self.peering = True
        """While False, the node holds no connections: an operator's switch (and the tests' partitions)."""
        self.only: frozenset[str] | None = None
        """While set, the only peers the node keeps connections with (to split a testnet in parts)."""
        self._silent: dict[str, float] = {}
        """Peers that do not answer the status protocol, and when that was first seen."""
        self._on_status: list[PeerHook] = []
        self._on_handshake: list[PeerHook] = []
        host.on_connected(self._on_connected)
        host.on_disconnected(self._on_disconnected)

    def on_status(self, hook: PeerHook) -> None:
        """Called after each status a peer of our network sent (sync looks for one ahead)."""
        self._on_status.append(hook)

    def on_handshake(self, hook: PeerHook) -> None:
        """Called once a newly connected peer's first status exchange succeeded."""
        self._on_handshake.append(hook)

    async def serve(self) -> None:
        await self._host.serve(messages.STATUS_PROTOCOL, self._serve_status)

    async def run(self) -> None:
        await self._status_loop()

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` as one of the network's owned tasks."""
        self._tasks.start_soon(work)

    # --- scores and the peering switch ---------------------------------------------------

    def records(self) -> list[PeerRecord]:
        """What we know of each connected peer."""
        connected = set(self._host.peers())
        return [record for record in self.book.records() if record.peer_id in connected]

    def strike(self, peer: str, reason: str) -> None:
        """Score a peer down for invalid gossip (on the asyncio loop; the scoring runs as a task)."""
        self._tasks.start_soon(self.penalize(peer, PENALTY_INVALID_GOSSIP, reason))

    async def penalize(self, peer: str, penalty: int, reason: str) -> None:
        if self.book.penalize(peer, penalty, reason):
            log.warning("banning peer %s: %s", peer, reason)
            try:
                await self._host.blacklist(peer)
            except P2PError as exc:
                log.warning("could not drop peer %s: %s", peer, exc.message)

    async def set_peering(self, enabled: bool, only: frozenset[str] | None = None) -> None:
        """Cut the node off from every peer (or from all but ``only``), or let it reconnect."""
        self.peering, self.only = enabled, only
        await asyncio.gather(*(self._disconnect(peer) for peer in self._host.peers() if not self.allowed(peer)))
        if not enabled:
            log.warning("peering disabled: the node is cut off from its peers")
        else:
            log.warning("peering enabled%s", "" if only is None else f" with only {sorted(only)}")

    def allowed(self, peer: str) -> bool:
        return self.peering and peer not in self.book.banned and (self.only is None or peer in self.only)

    async def _disconnect(self, peer: str) -> None:
        try:
            await self._host.disconnect(peer)
        except P2PError as exc:
            log.debug("disconnecting %s: %s", peer, exc.message)

    async def _drop_foreign(self, peer: str) -> None:
        self.book.banned.add(peer)
        try:
            await self._host.blacklist(peer)
        except P2PError:
            pass

    # --- status and handshake ------------------------------------------------------------

    def _our_status(self) -> messages.Status:
        ledger = self._ledger
        head, final = ledger.head, ledger.finalized
        justified = ledger.justified_on(head.hash, head.height)
        return messages.Status(
            network_id=ledger.genesis.network_id,
            genesis=ledger.genesis.hash,
            head_height=head.height,
            head_hash=head.hash,
            total_difficulty=ledger.head_difficulty,
            finalized_height=final.height,
            finalized_hash=final.hash,
            justified_height=justified.height,
            justified_hash=justified.hash,
        )

    async def _serve_status(self, peer: str, request: bytes) -> bytes:
        self._accept_status(peer, messages.decode_status(request))
        return self._our_status().encode()

    def _accept_status(self, peer: str, status: messages.Status) -> bool:
        if status.genesis != self._ledger.genesis.hash:
            log.warning(
                "peer %s is on network %r (genesis %s…), not ours: dropping it",
                peer, status.network_id, status.genesis.hex()[:16],
            )
            self._tasks.start_soon(self._drop_foreign(peer))
            return False
        self._silent.pop(peer, None)
        self.book.set_status(peer, status)
        for hook in self._on_status:
            hook(peer)
        return True

    async def exchange_status(self, peer: str) -> bool:
        """Ask ``peer`` for its status (and tell it ours); False if it gave none we can use."""
        try:
            answer = await self._host.request(
                peer, messages.STATUS_PROTOCOL, self._our_status().encode(), timeout=HANDSHAKE_TIMEOUT_S
            )
            status = messages.decode_status(answer)
        except P2PError as exc:
            self._status_failed(peer, exc)
            return False
        except ProtocolError as exc:
            await self.penalize(peer, PENALTY_INVALID_GOSSIP, f"malformed status: {exc.message}")
            return False
        return self._accept_status(peer, status)

    def _status_failed(self, peer: str, error: P2PError) -> None:
        if not isinstance(error, UnsupportedProtocol) or peer in self._silent:
            log.debug("status exchange with %s failed: %s", peer, error.message)
            return
        self._silent[peer] = asyncio.get_running_loop().time()
        log.warning(
            "peer %s does not speak %s: keeping it %.0fs without a handshake, then dropping it",
            peer, messages.STATUS_PROTOCOL, SILENT_PEER_GRACE_S,
        )

    async def _greet(self, peer: str) -> None:
        if await self.exchange_status(peer):
            for hook in self._on_handshake:
                hook(peer)

    def _on_connected(self, peer: str) -> None:
        if peer in self.book.banned:
            self._tasks.start_soon(self._drop_foreign(peer))
            return
        if not self.allowed(peer):
            self._tasks.start_soon(self._disconnect(peer))
            return
        self.book.connected(peer)
        self._tasks.start_soon(self._greet(peer))

    def _on_disconnected(self, peer: str) -> None:
        self.book.disconnected(peer)
        self._silent.pop(peer, None)

    async def _status_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(STATUS_INTERVAL_S)
            # A dial already under way when a peer was banned (or peering was switched off)
            # can still complete: sweep such connections here, and silent peers past their grace.
            now = loop.time()
            unwanted = [
                peer for peer in self._host.peers()
                if not self.allowed(peer) or now - self._silent.get(peer, now) > SILENT_PEER_GRACE_S
            ]
            await asyncio.gather(*(self._disconnect(peer) for peer in unwanted))
            wanted = [peer for peer in self._host.peers() if peer not in unwanted and peer not in self._silent]
            await asyncio.gather(*(self.exchange_status(peer) for peer in wanted))
