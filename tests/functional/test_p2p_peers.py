"""Real nodes, and peers that are not our node (libp2p hosts the test drives): an honest relay
of a block this node cannot judge yet is not blamed, a peer that does not speak the status
protocol is logged once and dropped after its grace, and the perf protocol serves only the
peer its operator named."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID

from node.p2p import messages
from node.p2p.gossip_validation import ACCEPTED
from node.p2p.host import P2PHost
from node.p2p.peering import SILENT_PEER_GRACE_S, STATUS_INTERVAL_S
from protocol.blocks import Block, encode_compact_block
from protocol.events import AuthorityVote, Event, ParticipantRegister, sign_event
from protocol.keys import SigningKey

from .blocks import LocalChain, authority_key
from .framework import NodeProcess, RpcError, wait_for_peers

pytestmark = pytest.mark.slow

PERIOD_MS = 500


async def until(predicate: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    """Poll ``predicate`` (run in a thread: it may call the node's RPC) without blocking the loop."""
    deadline = time.monotonic() + timeout
    while True:
        result = await asyncio.to_thread(predicate)
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def address_of(node: NodeProcess) -> str:
    return next(address for address in node.get("/v1/peers")["addresses"] if "/tcp/" in address)


def peer_record(node: NodeProcess, peer_id: str) -> dict[str, Any] | None:
    return next((peer for peer in node.get("/v1/peers")["peers"] if peer["peer_id"] == peer_id), None)


def vote_in_a_newcomer(tmp_path: Path) -> tuple[list[Block], str]:
    """Blocks 1-3 of the scaffolded network: registrations, the votes adding a newcomer, and
    the newcomer's first block (its turn at height 3 of four)."""
    net = tmp_path / "net"
    a0, a1, a2 = (authority_key(net, index) for index in range(3))
    newcomer = SigningKey.generate()
    chain = LocalChain(tmp_path / "test-chain", net / "genesis.toml")
    try:
        now = int(time.time() * 1000)
        registered = chain.sign(a1, [sign_event(key, ParticipantRegister(f"a{i}", ("consumer",)), 1, now) for i, key in enumerate((a0, a1))])
        voting = chain.sign(a2, [sign_event(key, AuthorityVote(newcomer.did, True), 2, now) for key in (a0, a1)])
        assert newcomer.did in chain.authorities
        first_by_newcomer = chain.sign(newcomer)
        assert first_by_newcomer.header.difficulty == 2
    finally:
        chain.close()
    return [registered, voting, first_by_newcomer], newcomer.did


class Relay:
    """A libp2p peer that relays blocks honestly: it answers status (at genesis, so nobody
    syncs from it) and events by id, and publishes what the test gives it."""

    def __init__(self, genesis: dict[str, Any], blocks: list[Block]) -> None:
        self.host = P2PHost(create_new_key_pair(), "/ip4/127.0.0.1/tcp/0")
        genesis_hash = bytes.fromhex(genesis["hash"])
        self.status = messages.Status(genesis["network_id"], genesis_hash, 0, genesis_hash, 0, 0, genesis_hash, 0, genesis_hash)
        self.tag = messages.network_tag(genesis_hash)
        self.events: dict[bytes, Event] = {event.id: event for block in blocks for event in block.events}

    async def start(self, address: str) -> None:
        host = self.host
        await host.start()

        async def status(peer: str, request: bytes) -> bytes:
            return self.status.encode()

        async def events_by_id(peer: str, request: bytes) -> bytes:
            wanted = messages.decode_event_ids(request)
            return messages.encode_found_events([self.events[i].raw for i in wanted if i in self.events])

        await host.serve(messages.STATUS_PROTOCOL, status)
        await host.serve(messages.events_by_id_protocol(self.tag), events_by_id)
        await host.connect(address)
        for topic in (messages.blocks_topic(self.tag), messages.events_topic(self.tag)):
            await host.subscribe(topic, lambda peer, data: ACCEPTED, asyncio.Queue(), lambda peer, reason: None)

    def meshed_with(self, peer: str) -> bool:
        """Whether gossipsub sends this relay's blocks to ``peer`` (py-libp2p's mesh, read in place)."""
        router = self.host._pubsub.router if self.host._pubsub is not None else None  # type: ignore[union-attr]
        mesh = getattr(router, "mesh", {}).get(messages.blocks_topic(self.tag), set())
        return ID.from_base58(peer) in mesh

    async def publish(self, block: Block) -> None:
        await self.host.publish(messages.blocks_topic(self.tag), encode_compact_block(block))


def test_an_honest_relay_of_a_new_authoritys_block_ahead_of_its_vote_is_not_penalized(start_network, tmp_path):
    # Three authorities the test holds; one follower runs. The test's relay hands it the
    # block that votes a newcomer in only after the newcomer's first block.
    network = start_network(4, authorities=3, block_period_ms=PERIOD_MS, running=0)
    lagging = network[3].start()
    (registered, voting, first_by_newcomer), newcomer = vote_in_a_newcomer(tmp_path)
    relay = Relay(lagging.get("/v1/genesis"), [registered, voting, first_by_newcomer])
    node_id = lagging.get("/v1/status")["node_id"]

    def head_is(block: Block) -> Callable[[], bool]:
        return lambda: lagging.get("/v1/status")["head_hash"] == block.hash.hex()

    async def scenario() -> dict[str, Any] | None:
        await relay.start(address_of(lagging))
        try:
            await until(lambda: relay.meshed_with(node_id), "the relay's block mesh to hold the node")
            await relay.publish(registered)
            await until(head_is(registered), "block 1 imported from the relay's gossip")
            await relay.publish(first_by_newcomer)  # the node does not know the newcomer yet
            await relay.publish(voting)
            await until(head_is(voting), "the vote's block imported from the relay's gossip")
            return await asyncio.to_thread(peer_record, lagging, relay.host.peer_id)
        finally:
            await relay.host.stop()

    record = asyncio.run(scenario())
    assert record is not None, "the relay was dropped"
    assert record["score"] == 0 and record["recent_strikes"] == [], record
    assert lagging.get("/v1/authorities")["authorities"][-1] == newcomer
    assert "scored down" not in lagging.log_path.read_text()


def test_a_peer_without_the_status_protocol_is_logged_once_and_dropped_after_its_grace(start_network):
    (node,) = start_network(1)
    stranger = P2PHost(create_new_key_pair(), "/ip4/127.0.0.1/tcp/0")

    async def visit() -> float:
        await stranger.start()
        try:
            await stranger.connect(address_of(node))
            connected_at = time.monotonic()
            await until(lambda: stranger.peer_id in node.get("/v1/status")["peers"], "the node to list the stranger")
            await until(lambda: stranger.peer_id not in node.get("/v1/status")["peers"], "the node to drop the stranger",
                        timeout=SILENT_PEER_GRACE_S + 4 * STATUS_INTERVAL_S + 10)
            return time.monotonic() - connected_at
        finally:
            await stranger.stop()

    kept = asyncio.run(visit())
    assert kept >= SILENT_PEER_GRACE_S, f"dropped after {kept:.1f}s, before its grace"
    log = node.log_path.read_text()
    lines = [line for line in log.splitlines() if stranger.peer_id in line]
    assert len([line for line in lines if "does not speak" in line]) == 1, lines
    assert "Traceback" not in log


def test_the_perf_source_answers_only_the_peer_its_operator_allowed(start_network):
    source, sink, other = start_network(3)
    for node in (source, sink, other):
        wait_for_peers(node, 2)
    source_id, sink_id = (node.get("/v1/status")["node_id"] for node in (source, sink))
    size = 4 << 20

    def perf(node: NodeProcess, body: dict[str, Any]) -> dict[str, Any]:
        return node.request("POST", "/v1/admin/perf", body=json.dumps(body).encode(), content_type="application/json")

    def measure(node: NodeProcess) -> dict[str, Any]:
        return perf(node, {"peer": source_id, "bytes": size})

    with pytest.raises(RpcError) as refused:
        measure(sink)
    assert refused.value.status == 502
    allowed = perf(source, {"allow": sink_id, "bytes": size})
    assert allowed == {"allowed": sink_id, "bytes": size}
    with pytest.raises(RpcError):
        measure(other)  # not the peer named
    assert measure(sink)["bytes"] == size
    with pytest.raises(RpcError):
        measure(sink)  # its allowance is spent
    with pytest.raises(RpcError) as too_much:
        perf(source, {"allow": sink_id, "bytes": 1 << 30})
    assert too_much.value.status == 400
