"""Prometheus metrics of real nodes: levels read at scrape, blocks and intervals counted, RPC
requests by route and status, and what crosses the network (gossip verdicts, sync and content bytes)."""

from __future__ import annotations

import asyncio
import os
import time
import urllib.error
import urllib.request

import pytest
from libp2p.crypto.ed25519 import create_new_key_pair
from prometheus_client.parser import text_string_to_metric_families

from node.client import FeedReader
from node.p2p import messages
from node.p2p.gossip_validation import ACCEPTED
from node.p2p.host import P2PHost
from protocol.events import ParticipantRegister

from .framework import NodeProcess, RpcError, sync_heads, wait_final_everywhere, wait_for_peers, wait_until
from .helpers import Client, asset_body, make_wav

pytestmark = pytest.mark.slow


def scrape(url: str) -> tuple[str, dict[str, dict[tuple, float]]]:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        content_type = response.headers["Content-Type"]
        text = response.read().decode()
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return content_type, samples


def value(samples, name: str, **labels) -> float:
    return samples[name].get(tuple(sorted(labels.items())), 0.0)


def test_metrics_follow_the_chain_and_the_rpc(start_local_node):
    node = start_local_node()
    node.wait_final(Client(node).send(ParticipantRegister("Ada", ("creator",))))
    with pytest.raises(RpcError):
        node.get("/v1/no-such-thing")
    with pytest.raises(RpcError):
        node.get("/v1/events/not-hex")
    with FeedReader(node.url):
        content_type, samples = scrape(node.url)
    status = node.get("/v1/status")

    assert content_type.startswith("text/plain; version=0.0.4")
    assert 1 <= value(samples, "audiera_chain_head_height") <= status["head_height"]
    assert 1 <= value(samples, "audiera_chain_finalized_height") <= status["finalized_height"]
    assert value(samples, "audiera_consensus_authorities") == 1
    assert value(samples, "audiera_p2p_peers") == 0
    assert value(samples, "audiera_mempool_size", status="pending") >= 0
    assert value(samples, "audiera_feed_subscribers") == 1
    assert value(samples, "audiera_chain_blocks_total") >= 1
    assert value(samples, "audiera_chain_events_total") >= 1
    intervals = value(samples, "audiera_chain_block_interval_seconds_count")
    assert intervals >= 1 and value(samples, "audiera_chain_block_interval_seconds_sum") / intervals >= 0.2, "200 ms blocks"
    assert value(samples, "audiera_rpc_requests_total", route="/v1/events", method="POST", status="202") == 1
    assert value(samples, "audiera_rpc_requests_total", route="unmatched", method="GET", status="404") == 1
    assert value(samples, "audiera_rpc_requests_total", route="/v1/events/{id}", method="GET", status="400") == 1
    assert value(samples, "audiera_rpc_requests_total", route="/v1/feed", method="GET", status="101") == 0, "still open"
    assert value(samples, "audiera_rpc_request_duration_seconds_count", route="/v1/events", method="POST") == 1

    wait_until(lambda: value(scrape(node.url)[1], "audiera_feed_subscribers") == 0, what="the feed subscriber to be gone")
    _, later = scrape(node.url)
    assert value(later, "audiera_rpc_requests_total", route="/v1/feed", method="GET", status="101") == 1
    assert value(later, "audiera_rpc_request_duration_seconds_count", route="/v1/feed", method="GET") == 0


def test_p2p_metrics_count_gossip_by_verdict_and_the_bytes_of_sync_and_content(start_network):
    authority, late = start_network(2, replicate="all", running=1)
    creator = Client(authority)
    authority.wait_final(creator.send(ParticipantRegister("Ada", ("creator",))))
    upload = creator.upload(make_wav(4.0, seed=3))  # about 700 KB: a dag-pb root over three leaves
    authority.wait_final(creator.send(asset_body(upload, creator.did)))
    authority.wait_for_height(authority.get("/v1/status")["head_height"] + 10)  # enough for the late node to sync, not follow

    late.start()
    sync_heads([authority, late])
    wait_until(lambda: _holds(late, upload["cid"]), what="the late node to replicate the content")
    wait_for_peers(late, 1)
    wait_final_everywhere([authority, late], Client(late).send(ParticipantRegister("Bo", ("consumer",))))
    asyncio.run(_publish_garbage(late))

    def sent_and_received(sender: NodeProcess, receiver: NodeProcess, name: str) -> tuple[float, float] | None:
        sent = value(scrape(sender.url)[1], name, direction="out")
        received = value(scrape(receiver.url)[1], name, direction="in")
        return (sent, received) if sent == received else None

    # Both ends count the same payloads: what one sends is what the other receives.
    synced, _ = wait_until(lambda: sent_and_received(authority, late, "audiera_p2p_sync_bytes_total"), what="sync bytes to agree")
    assert synced > 1000, "the late node synced its blocks"
    assert wait_until(lambda: sent_and_received(late, authority, "audiera_p2p_sync_bytes_total"), what="sync requests to agree")[0] > 0
    content, _ = wait_until(lambda: sent_and_received(authority, late, "audiera_p2p_content_bytes_total"), what="content bytes to agree")
    assert content >= upload["size"], "every byte of the file came through the content exchange"
    assert wait_until(lambda: sent_and_received(late, authority, "audiera_p2p_content_bytes_total"), what="content requests to agree")[0] > 0

    _, at_authority = scrape(authority.url)
    _, at_late = scrape(late.url)
    gossip = "audiera_p2p_gossip_messages_total"
    assert value(at_authority, gossip, topic="events", outcome="accept") >= 1, "the event sent at the late node"
    assert value(at_late, gossip, topic="blocks", outcome="accept") >= 1, "blocks produced once it followed"
    assert value(at_late, gossip, topic="events", outcome="reject") >= 1, "the garbage"
    assert value(at_authority, gossip, topic="events", outcome="reject") == 0, "garbage is not relayed"
    assert value(at_authority, gossip, topic="evidence", outcome="accept") == 0
    assert value(at_authority, "audiera_p2p_content_bytes_total", direction="in") == value(at_late, "audiera_p2p_content_bytes_total", direction="out")


def _holds(node: NodeProcess, cid: str) -> bool:
    try:
        node.get(f"/v1/content/{cid}/info")
    except RpcError:
        return False
    return True


async def _publish_garbage(target: NodeProcess, timeout: float = 30) -> None:
    """Publish undecodable event batches to ``target`` until it has rejected one (the mesh forms at a heartbeat)."""
    topic = messages.events_topic(messages.network_tag(bytes.fromhex(target.get("/v1/status")["genesis_hash"])))
    address = next(address for address in target.get("/v1/peers")["addresses"] if "/tcp/" in address)
    attacker = P2PHost(create_new_key_pair(), "/ip4/127.0.0.1/tcp/0")
    await attacker.start()
    try:
        await attacker.connect(address)
        await attacker.subscribe(topic, lambda peer, data: ACCEPTED, asyncio.Queue(), lambda peer, reason: None)
        deadline = time.monotonic() + timeout
        while value(scrape(target.url)[1], "audiera_p2p_gossip_messages_total", topic="events", outcome="reject") == 0:
            assert time.monotonic() < deadline, "the garbage was never judged"
            await attacker.publish(topic, os.urandom(300))
            await asyncio.sleep(0.2)
    finally:
        await attacker.stop()
