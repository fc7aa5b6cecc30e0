"""Prometheus metrics at ``/metrics``, named after CometBFT's and geth's (``audiera_<subsystem>_<name>``).

Levels (head, finality, mempool, peers, feed subscribers) are read from the node when
scraped, so they cost nothing between scrapes; what happens (blocks, their intervals,
reorgs, RPC requests) is counted as it happens, by the ledger's head-change listener
and an RPC middleware; what crosses the network (gossip verdicts, sync and content
bytes) is counted by the p2p parts themselves (p2p/traffic.py) and copied at each
scrape. Each app has its own registry, so nodes in one process (tests) never share counts.
"""

from __future__ import annotations

import logging
import time
from typing import Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ..chain.ledger import HeadChange
from ..p2p.traffic import Stream, TrafficCounts
from ..services import Services
from .errors import Handler
from .feed_hub import FeedHub

log = logging.getLogger("audiera.rpc.metrics")

BLOCK_INTERVAL_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60)
RPC_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
STREAMING_ROUTES = frozenset({"/v1/feed"})
"""Routes whose requests last as long as the client stays: counted, but kept out of the durations."""
EXPOSITION_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The text format every Prometheus version scrapes (the library's latest, 1.0.0, needs Prometheus 3)."""
UNMATCHED = "unmatched"
"""The route label of a request no route matched: one label, however many paths are tried."""


class NodeLevels(Collector):
    """The node's levels, read at each scrape."""

    def __init__(self, services: Services, feeds: FeedHub) -> None:
        self._services = services
        self._feeds = feeds

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        services = self._services
        ledger = services.ledger
        yield _gauge("audiera_chain_head_height", "Height of the canonical head", ledger.head.height)
        justified = ledger.justified_on(ledger.head.hash, ledger.head.height).height
        yield _gauge("audiera_chain_justified_height", "Height of the highest justified block the head builds on", justified)
        yield _gauge("audiera_chain_finalized_height", "Height of the highest final block", ledger.finalized.height)
        yield _gauge("audiera_chain_head_timestamp_seconds", "Block time of the head", ledger.head.ts / 1000)
        yield _gauge("audiera_consensus_authorities", "Authorities that sign the next block", len(ledger.authorities))
        mempool = GaugeMetricFamily("audiera_mempool_size", "Events waiting in the mempool", labels=["status"])
        mempool.add_metric(["pending"], services.mempool.ready_count)
        mempool.add_metric(["queued"], services.mempool.queued_count)
        yield mempool
        network = services.network.status()
        yield _gauge("audiera_p2p_peers", "Connected peers", len(network.peers))
        yield _gauge("audiera_p2p_syncing", "1 while the node syncs from a peer ahead", int(network.syncing))
        yield _gauge("audiera_feed_subscribers", "Live feed subscribers", len(self._feeds.subscribers))
        dropped = CounterMetricFamily("audiera_feed_dropped", "Feed subscribers dropped for falling behind")
        dropped.add_metric([], self._feeds.dropped_total)
        yield dropped
        yield from traffic_families(services.network.traffic.snapshot())


def traffic_families(counts: TrafficCounts) -> Iterator[CounterMetricFamily]:
    """The p2p counters as metric families, every label present from the start (zeros included)."""
    gossip = CounterMetricFamily(
        "audiera_p2p_gossip_messages", "Gossip messages received from peers, by topic and validation outcome",
        labels=["topic", "outcome"],
    )
    for (topic, verdict), count in counts.gossip.items():
        gossip.add_metric([topic, verdict.value], count)
    yield gossip
    for stream, documentation in (
        (Stream.SYNC, "Bytes of block sync requests and answers, by direction"),
        (Stream.CONTENT, "Bytes of content block requests and answers, by direction"),
    ):
        family = CounterMetricFamily(f"audiera_p2p_{stream.value}_bytes", documentation, labels=["direction"])
        for (counted, direction), count in counts.bytes.items():
            if counted is stream:
                family.add_metric([direction.value], count)
        yield family


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class RpcMetrics:
    def __init__(self, services: Services, feeds: FeedHub) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(NodeLevels(services, feeds))
        self.blocks = Counter("audiera_chain_blocks", "Blocks that became canonical", registry=self.registry)
        self.events = Counter("audiera_chain_events", "Events in blocks that became canonical", registry=self.registry)
        self.reorgs = Counter("audiera_chain_reorgs", "Head changes that reverted blocks", registry=self.registry)
        self.reverted = Counter("audiera_chain_reverted_blocks", "Blocks reverted by reorgs", registry=self.registry)
        self.block_interval = Histogram(
            "audiera_chain_block_interval_seconds", "Block time between a new canonical block and its parent",
            buckets=BLOCK_INTERVAL_BUCKETS, registry=self.registry,
        )
        self.requests = Counter(
            "audiera_rpc_requests", "RPC requests answered", ["route", "method", "status"], registry=self.registry
        )
        self.durations = Histogram(
            "audiera_rpc_request_duration_seconds", "Time to answer an RPC request (to the end of its body)",
            ["route", "method"], buckets=RPC_DURATION_BUCKETS, registry=self.registry,
        )
        self._head_ts = services.ledger.head.ts

    def on_head_change(self, change: HeadChange) -> None:
        """The ledger's listener: counts blocks and observes each one's interval after its parent (never raises into the ledger)."""
        try:
            self._count(change)
        except Exception:
            log.exception("metrics could not count a head change")

    def _count(self, change: HeadChange) -> None:
        previous = self._head_ts
        if change.reverted:
            self.reorgs.inc()
            self.reverted.inc(len(change.reverted))
            previous = None  # the new branch's parent time is not at hand; its first interval is skipped
        for block in change.applied:
            if previous is not None:
                self.block_interval.observe(max(0, block.header.ts - previous) / 1000)
            previous = block.header.ts
            self.events.inc(len(block.events))
        self.blocks.inc(len(change.applied))
        if change.applied:
            self._head_ts = change.applied[-1].header.ts

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            route = _route_label(request)
            self.requests.labels(route, request.method, str(status)).inc()
            if route not in STREAMING_ROUTES:
                self.durations.labels(route, request.method).observe(time.perf_counter() - started)



METRICS = web.AppKey("metrics", RpcMetrics)


async def get_metrics(request: web.Request) -> web.Response:
    """The Prometheus text exposition of this node's metrics."""
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": EXPOSITION_TYPE})


def _route_label(request: web.Request) -> str:
    route = request.match_info.route
    resource = route.resource if route is not None else None
    if resource is None or request.match_info.http_exception is not None:
        return UNMATCHED
    return resource.canonical
