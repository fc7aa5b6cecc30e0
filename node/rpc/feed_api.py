"""``GET /v1/feed``: the live feed over a websocket, filtered by query parameters.

    /v1/feed?topics=heads,final,events&kind=asset.register&account=did:key:…&asset=bafy…

``topics`` (default all three) picks the message types; ``kind``, ``account`` and ``asset``
(each repeatable, or comma-separated) narrow the events: an event passes if it matches
every field given, and any one value within a field. The client sends nothing; the node
ends the connection with code 1008 and the reason when the client falls too far behind,
and refuses (503) a subscriber beyond its limit before the upgrade.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import WSCloseCode, WSMsgType, web

from protocol.events import BODY_TYPES

from . import params
from .errors import ApiError, bad_request
from .feed_hub import TOPICS, FeedFilter, FeedHub, Subscriber

log = logging.getLogger("audiera.rpc.feed")

FEED_HUB = web.AppKey("feed_hub", FeedHub)
MAX_FILTER_VALUES = 16
SEND_TIMEOUT = 10.0
"""Seconds one message may take to leave: longer means the client stopped reading."""
CLOSE_TIMEOUT = 2.0


def _values(request: web.Request, name: str) -> list[str]:
    values = [value for raw in request.query.getall(name, []) for value in raw.split(",") if value]
    if len(values) > MAX_FILTER_VALUES:
        raise bad_request(f"{name} may name at most {MAX_FILTER_VALUES} values")
    return values


def parse_filter(request: web.Request) -> FeedFilter:
    unknown = sorted(set(request.query) - {"topics", "kind", "account", "asset"})
    if unknown:
        raise bad_request(f"unknown feed parameter(s) {', '.join(unknown)}; known: topics, kind, account, asset")
    topics = _values(request, "topics") or list(TOPICS)
    for topic in topics:
        if topic not in TOPICS:
            raise bad_request(f"topic {topic!r} is not one of {', '.join(TOPICS)}")
    kinds = _values(request, "kind")
    for kind in kinds:
        if kind not in BODY_TYPES:
            raise bad_request(f"kind {kind!r} is not an event kind; known: {', '.join(BODY_TYPES)}")
    accounts = [params.did_param(account) for account in _values(request, "account")]
    assets = [params.cid_param(asset) for asset in _values(request, "asset")]
    return FeedFilter(frozenset(topics), frozenset(kinds), frozenset(accounts), frozenset(assets))


async def get_feed(request: web.Request) -> web.StreamResponse:
    hub = request.app[FEED_HUB]
    feed_filter = parse_filter(request)
    if hub.full:
        raise ApiError(503, "too_many_subscribers", f"this node serves at most {hub.max_subscribers} feed subscribers; try again later")
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4096)
    if not ws.can_prepare(request).ok:
        raise bad_request("the feed is a websocket: connect with an Upgrade: websocket request")
    # Subscribed before the first await, so clients upgrading at once cannot pass the limit together.
    subscriber = hub.subscribe(feed_filter)
    reader: asyncio.Task | None = None
    try:
        await ws.prepare(request)
        reader = asyncio.create_task(_read_until_closed(ws, subscriber))
        await _send_all(request, ws, subscriber)
    finally:
        hub.unsubscribe(subscriber)
        if reader is not None:
            reader.cancel()
    return ws


async def _read_until_closed(ws: web.WebSocketResponse, subscriber: Subscriber) -> None:
    """Read what the client sends (nothing is expected) until it closes, then end the subscription."""
    async for message in ws:
        if message.type == WSMsgType.ERROR:
            break
    subscriber.end("closed by the client")


async def _send_all(request: web.Request, ws: web.WebSocketResponse, subscriber: Subscriber) -> None:
    while True:
        message = await subscriber.next_message()
        if message is None:
            break
        try:
            await asyncio.wait_for(ws.send_str(message), SEND_TIMEOUT)
        except (asyncio.TimeoutError, ConnectionError):
            subscriber.end("dropped: the client stopped reading")
            _abort(request)
            return
    if subscriber.dropped:
        log.info("feed subscriber %s %s", request.remote, subscriber.reason)
    if not ws.closed:
        try:
            await asyncio.wait_for(ws.close(code=WSCloseCode.POLICY_VIOLATION if subscriber.dropped else WSCloseCode.OK,
                                            message=(subscriber.reason or "").encode()[:120]), CLOSE_TIMEOUT)
        except (asyncio.TimeoutError, ConnectionError):
            _abort(request)


def _abort(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()  # type: ignore[attr-defined]
