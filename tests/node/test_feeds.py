"""The live feed: filters, reorg and finality messages, a slow client dropped with its reason, the subscriber limit, the stdlib reader."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from node.chain.ledger import HeadChange
from node.client import FeedClosed, FeedReader, RpcError
from node.rpc.errors import error_middleware
from node.rpc.feed_api import FEED_HUB, get_feed
from node.rpc.feed_hub import FeedFilter, FeedHub
from protocol.blocks import Block, Header
from protocol.events import AssetTerms, ParticipantRegister, sign_event

from tests.protocol.factories import ALICE, BOB, TS, asset_register, terms

ZERO = b"\x00" * 32


def block(height: int, *bodies_by_key, parent: bytes = ZERO) -> Block:
    events = tuple(sign_event(key, body, nonce, TS) for nonce, (key, body) in enumerate(bodies_by_key, start=1))
    header = Header(height=height, parent=parent, ts=TS + height, proposer=ALICE.did, events_root=ZERO, state_root=ZERO, difficulty=2)
    return Block(header=header, events=events)


def fake_ledger(final_height: int = 0) -> SimpleNamespace:
    return SimpleNamespace(finalized=SimpleNamespace(height=final_height, hash=bytes([final_height]) * 32))


def drained(subscriber) -> list[dict]:
    messages = []
    while not subscriber.queue.empty():
        messages.append(json.loads(subscriber.queue.get_nowait()))
    return messages


REGISTER = asset_register()
SAMPLE = block(
    1,
    (ALICE, ParticipantRegister("Alice", ("creator",))),
    (BOB, REGISTER),
    (BOB, AssetTerms(REGISTER.cid, terms())),
)


async def test_filters_narrow_events_and_topics():
    hub = FeedHub(fake_ledger(), max_subscribers=8, queue_size=16)
    everything = hub.subscribe(FeedFilter())
    by_kind = hub.subscribe(FeedFilter(kinds=frozenset({"asset.terms"})))
    by_account = hub.subscribe(FeedFilter(accounts=frozenset({ALICE.did})))  # Alice authors one, is a holder in another
    by_asset = hub.subscribe(FeedFilter(topics=frozenset({"events"}), assets=frozenset({REGISTER.cid})))
    heads_only = hub.subscribe(FeedFilter(topics=frozenset({"heads"})))
    hub.on_head_change(HeadChange(applied=(SAMPLE,)))

    assert [m["type"] for m in drained(everything)] == ["head", "events"]
    kinds = lambda sub: [e["kind"] for m in drained(sub) if m["type"] == "events" for e in m["events"]]  # noqa: E731
    assert kinds(by_kind) == ["asset.terms"]
    assert kinds(by_account) == ["participant.register", "asset.register"]
    assert kinds(by_asset) == ["asset.register", "asset.terms"]
    assert [m["type"] for m in drained(heads_only)] == ["head"]


async def test_reorg_and_finality_messages():
    ledger = fake_ledger(final_height=0)
    hub = FeedHub(ledger, max_subscribers=8, queue_size=16)
    subscriber = hub.subscribe(FeedFilter(topics=frozenset({"heads", "final"})))
    old, new = block(1), block(1, parent=b"\x01" * 32)
    ledger.finalized = SimpleNamespace(height=1, hash=new.hash)
    hub.on_head_change(HeadChange(applied=(new,), reverted=(old,)))
    messages = drained(subscriber)
    assert [m["type"] for m in messages] == ["reorg", "head", "final"]
    assert messages[0]["reverted"] == [{"height": 1, "hash": old.hash.hex()}]
    assert messages[2] == {"type": "final", "height": 1, "hash": new.hash.hex()}
    hub.on_head_change(HeadChange(applied=(block(2, parent=new.hash),)))
    assert [m["type"] for m in drained(subscriber)] == ["head"], "finality is announced once per height"


async def test_a_full_queue_drops_that_subscriber_only():
    hub = FeedHub(fake_ledger(), max_subscribers=8, queue_size=3)
    slow, keeping_up = hub.subscribe(FeedFilter()), hub.subscribe(FeedFilter(topics=frozenset({"final"})))
    for height in range(1, 5):
        hub.on_head_change(HeadChange(applied=(SAMPLE,)))
    assert slow.dropped and "fell 3 messages behind" in slow.reason
    assert hub.subscribers == [keeping_up] and hub.dropped_total == 1
    assert await slow.next_message() is None


@pytest.fixture
async def feed_server():
    started = []

    async def start(**limits) -> tuple[FeedHub, TestServer]:
        app = web.Application(middlewares=[error_middleware])
        hub = FeedHub(fake_ledger(), **limits)
        app[FEED_HUB] = hub
        app.router.add_get("/v1/feed", get_feed)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        started.append(server)
        return hub, server

    yield start
    for server in started:
        await server.close()


async def wait_for(predicate, what: str) -> None:
    for _ in range(200):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_slow_websocket_client_is_closed_with_the_reason(feed_server):
    hub, server = await feed_server(max_subscribers=4, queue_size=2)
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(server.make_url("/v1/feed")) as ws:
            await wait_for(lambda: hub.subscribers, "the subscription")
            for _ in range(5):  # all at once: the node's sender gets no turn in between
                hub.on_head_change(HeadChange(applied=(SAMPLE,)))
            while (message := await ws.receive(timeout=10)).type not in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                pass
            assert message.type == aiohttp.WSMsgType.CLOSE and message.data == aiohttp.WSCloseCode.POLICY_VIOLATION
            assert "fell 2 messages behind" in message.extra
    assert hub.subscribers == [] and hub.dropped_total == 1


async def test_subscriber_limit_and_bad_filters_are_refused_before_the_upgrade(feed_server):
    hub, server = await feed_server(max_subscribers=1, queue_size=8)
    url = server.make_url("/v1/feed")
    first = FeedReader(str(server.make_url("")))
    await asyncio.to_thread(first.connect)  # the reader blocks: never on the loop that serves it
    await wait_for(lambda: hub.subscribers, "the first subscription")
    with pytest.raises(RpcError) as refused:
        await asyncio.to_thread(FeedReader(str(server.make_url(""))).connect)
    assert refused.value.status == 503 and refused.value.code == "too_many_subscribers"
    await asyncio.to_thread(first.close)
    await wait_for(lambda: not hub.subscribers, "the first subscription to end when its client closes")
    for query, wrong in [("kind=asset.nope", "kind"), ("topics=gossip", "topic"), ("account=bob", "did:key"), ("colour=red", "unknown"), ("kind=access", "websocket")]:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}?{query}") as response:
                assert response.status == 400
                assert wrong in (await response.json())["error"]["message"]


async def test_the_stdlib_reader_follows_a_filtered_feed_and_learns_why_it_ended(feed_server):
    hub, server = await feed_server(max_subscribers=4, queue_size=8)
    reader = FeedReader(str(server.make_url("")), kinds=["asset.register"], timeout=10)
    await asyncio.to_thread(reader.connect)
    await wait_for(lambda: hub.subscribers, "the subscription")
    assert hub.subscribers[0].filter.kinds == {"asset.register"}
    hub.on_head_change(HeadChange(applied=(SAMPLE,)))
    hub.close_all("the node is shutting down")
    messages = reader.messages()
    head = await asyncio.to_thread(next, messages)
    events = await asyncio.to_thread(next, messages)
    assert head["type"] == "head" and [e["kind"] for e in events["events"]] == ["asset.register"]
    with pytest.raises(FeedClosed) as closed:
        await asyncio.to_thread(next, messages)
    assert closed.value.code == 1000 and closed.value.reason == "the node is shutting down"


async def test_a_failure_while_publishing_never_reaches_the_ledger(caplog):
    ledger = fake_ledger()
    hub = FeedHub(ledger, max_subscribers=8, queue_size=16)
    subscriber = hub.subscribe(FeedFilter())
    ledger.head = SimpleNamespace(height=1)
    broken = HeadChange(applied=(SimpleNamespace(events=(), header=None, hash=b""),))  # type: ignore[arg-type]
    hub.on_head_change(broken)  # must not raise
    assert "feed could not publish" in caplog.text
    hub.on_head_change(HeadChange(applied=(SAMPLE,)))
    assert [m["type"] for m in drained(subscriber)] == ["head", "events"]
