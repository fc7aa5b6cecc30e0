"""Traffic counters: gossip verdicts by topic, sync and content bytes on both ends, and their export as metrics."""

from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from node.p2p import messages
from node.p2p.content_exchange import ContentExchange
from node.p2p.content_server import ContentServer
from node.p2p.gossip_validation import ACCEPTED, Judgement, Verdict, ignore, reject
from node.p2p.sync_server import SyncServer
from node.p2p.traffic import GOSSIP_TOPICS, Direction, Stream, TrafficCounters
from node.rpc.metrics import traffic_families
from protocol.unixfs import CHUNK_SIZE
from storage.database import open_stores

LIMIT = 1 << 30


@pytest.fixture
def stores(tmp_path):
    opened = {name: open_stores(tmp_path / name) for name in ("source", "sink")}
    yield opened
    for store in opened.values():
        store.close()


def test_every_verdict_a_validator_gives_is_counted_under_its_topic() -> None:
    traffic = TrafficCounters()
    verdicts = iter([ACCEPTED, ignore("seen"), reject("garbage"), ACCEPTED])

    def validate(peer: str, data: bytes) -> Judgement:
        return next(verdicts)

    counted = traffic.counted("blocks", validate)
    given = [counted("peer", b"x").verdict for _ in range(4)]
    assert given == [Verdict.ACCEPT, Verdict.IGNORE, Verdict.REJECT, Verdict.ACCEPT], "the judgement passes through"
    gossip = traffic.snapshot().gossip
    assert (gossip[("blocks", Verdict.ACCEPT)], gossip[("blocks", Verdict.IGNORE)], gossip[("blocks", Verdict.REJECT)]) == (2, 1, 1)
    assert all(count == 0 for (topic, _), count in gossip.items() if topic != "blocks")


def test_a_topic_without_a_metric_name_is_refused() -> None:
    with pytest.raises(ValueError):
        TrafficCounters().counted("/audiera/ab/events/1", lambda peer, data: ACCEPTED)


async def test_both_ends_of_a_content_fetch_count_the_same_bytes(stores) -> None:
    data = random.Random(5).randbytes(3 * CHUNK_SIZE + 10)
    ingest = stores["source"].content.start_ingest(LIMIT)
    ingest.write(data)
    ingest.close_file()
    root = ingest.finish(None).cid
    serving, fetching = TrafficCounters(), TrafficCounters()
    server = ContentServer(stores["source"].content, serving)

    async def request(peer: str, payload: bytes) -> bytes:
        return server.serve(peer, payload)

    async def penalize(peer: str, amount: int, reason: str) -> None:
        raise AssertionError(reason)

    exchange = ContentExchange(stores["sink"].content, request, penalize, lambda: ["a"], LIMIT, traffic=fetching)
    await exchange.fetch(root)
    served, fetched = serving.snapshot().bytes, fetching.snapshot().bytes
    assert fetched[(Stream.CONTENT, Direction.IN)] == served[(Stream.CONTENT, Direction.OUT)] > len(data)
    assert fetched[(Stream.CONTENT, Direction.OUT)] == served[(Stream.CONTENT, Direction.IN)] > 0
    assert fetched[(Stream.SYNC, Direction.IN)] == 0


async def test_the_sync_server_counts_what_it_is_asked_and_answers(stores) -> None:
    traffic = TrafficCounters()
    request = messages.BlocksByRange(start=1, count=10).encode()
    answer = await SyncServer(stores["source"].chain, lambda target, above, limit: [], traffic).serve("peer", request)
    counted = traffic.snapshot().bytes
    assert (counted[(Stream.SYNC, Direction.IN)], counted[(Stream.SYNC, Direction.OUT)]) == (len(request), len(answer))
    assert counted[(Stream.CONTENT, Direction.IN)] == 0


def test_the_counts_are_exported_with_every_label_present() -> None:
    traffic = TrafficCounters()
    traffic.counted("events", lambda peer, data: reject("garbage"))("peer", b"x")
    traffic.exchange(Stream.SYNC, b"q" * 7, b"a" * 1000)
    traffic.served(Stream.CONTENT, b"q" * 3, b"a" * 500)

    class Traffic:
        def collect(self):
            return traffic_families(traffic.snapshot())

    registry = CollectorRegistry()
    registry.register(Traffic())
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }
    gossip = {key: count for key, count in samples.items() if key[0] == "audiera_p2p_gossip_messages_total"}
    assert len(gossip) == len(GOSSIP_TOPICS) * len(Verdict), "every topic and outcome, zeros included"
    assert gossip[("audiera_p2p_gossip_messages_total", (("outcome", "reject"), ("topic", "events")))] == 1
    assert sum(gossip.values()) == 1
    assert samples[("audiera_p2p_sync_bytes_total", (("direction", "in"),))] == 1000
    assert samples[("audiera_p2p_sync_bytes_total", (("direction", "out"),))] == 7
    assert samples[("audiera_p2p_content_bytes_total", (("direction", "in"),))] == 3
    assert samples[("audiera_p2p_content_bytes_total", (("direction", "out"),))] == 500
