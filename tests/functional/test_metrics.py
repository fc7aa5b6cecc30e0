"""Prometheus metrics of a real node: levels read at scrape, blocks and intervals counted, RPC requests by route and status."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from node.client import FeedReader
from protocol.events import ParticipantRegister

from .framework import RpcError, wait_until
from .helpers import Client

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
