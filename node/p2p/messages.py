"""What nodes say to each other: each message a canonical MessagePack map, decoded strictly.

Protocols (``<net>`` is the first 16 hex digits of the genesis hash, so nodes of two
networks never share a topic or a request protocol; the status protocol is the one
exception, so that a node can tell which network a stranger is on before dropping it):

- ``/audiera/status/1``: both sides exchange a ``Status`` in one round trip.
- ``/audiera/<net>/sync/1``: blocks by height range or by hash, and the finality votes
  behind a block (for a peer whose status shows it justified where we do not).
- ``/audiera/<net>/content/2``: content blocks by CID, on a pipe (many requests a stream,
  answered in order).
- ``/audiera/<net>/events/1``: a batch of waiting events handed to a peer that just
  connected, so events admitted while it was away are not stranded.
- ``/audiera/<net>/events-by-id/1``: the events with the given ids that the peer holds
  (what a node lacks to assemble a gossiped block).
- gossip topics ``/audiera/<net>/events/1`` (a batch of signed events),
  ``/audiera/<net>/blocks/2`` (one block in compact form: header and event ids),
  ``/audiera/<net>/votes/1`` (one signed finality vote) and ``/audiera/<net>/evidence/1``
  (double-signed headers or slashable votes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protocol.blocks import MAX_BLOCK_EVENTS
from protocol.encoding import decode, encode
from protocol.errors import DecodeError, ProtocolError
from protocol.fields import FieldReader

STATUS_PROTOCOL = "/audiera/status/1"
MAX_SYNC_BLOCKS = 512
"""Most blocks one sync response carries (it also stops short of the frame limit)."""
MAX_SYNC_VOTES = 256
"""Most votes one answer to ``VotesBehind`` carries."""
MAX_CONTENT_CIDS = 32
MAX_EVENT_BATCH = 4096


class BadMessage(ProtocolError):
    code = "bad_message"


def network_tag(genesis_hash: bytes) -> str:
    return genesis_hash.hex()[:16]


def sync_protocol(tag: str) -> str:
    return f"/audiera/{tag}/sync/1"


def content_protocol(tag: str) -> str:
    return f"/audiera/{tag}/content/2"


def events_protocol(tag: str) -> str:
    return f"/audiera/{tag}/events/1"


def events_by_id_protocol(tag: str) -> str:
    return f"/audiera/{tag}/events-by-id/1"


def events_topic(tag: str) -> str:
    return f"/audiera/{tag}/events/1"


def blocks_topic(tag: str) -> str:
    return f"/audiera/{tag}/blocks/2"


def votes_topic(tag: str) -> str:
    return f"/audiera/{tag}/votes/1"


def evidence_topic(tag: str) -> str:
    return f"/audiera/{tag}/evidence/1"


def _read(data: bytes, what: str) -> FieldReader:
    try:
        value = decode(data)
    except DecodeError as exc:
        raise BadMessage(f"{what}: {exc.message}") from None
    return FieldReader(value, what, BadMessage)


@dataclass(frozen=True)
class Status:
    network_id: str
    genesis: bytes
    head_height: int
    head_hash: bytes
    total_difficulty: int
    finalized_height: int
    finalized_hash: bytes
    justified_height: int
    """The highest block on the head's chain the sender knows as justified (by headers or votes):
    a peer that holds it but not as justified asks for the votes behind it."""
    justified_hash: bytes

    def encode(self) -> bytes:
        return encode(self.__dict__)


def decode_status(data: bytes) -> Status:
    r = _read(data, "status")
    status = Status(
        network_id=r.text("network_id", min_len=1, max_len=64),
        genesis=r.digest("genesis"),  # type: ignore[arg-type]
        head_height=r.integer("head_height"),
        head_hash=r.digest("head_hash"),  # type: ignore[arg-type]
        total_difficulty=r.integer("total_difficulty"),
        finalized_height=r.integer("finalized_height"),
        finalized_hash=r.digest("finalized_hash"),  # type: ignore[arg-type]
        justified_height=r.integer("justified_height"),
        justified_hash=r.digest("justified_hash"),  # type: ignore[arg-type]
    )
    r.done()
    return status


@dataclass(frozen=True)
class BlocksByRange:
    start: int
    count: int

    def encode(self) -> bytes:
        return encode({"op": "range", "start": self.start, "count": self.count})


@dataclass(frozen=True)
class BlockByHash:
    hash: bytes

    def encode(self) -> bytes:
        return encode({"op": "hash", "hash": self.hash})


@dataclass(frozen=True)
class VotesBehind:
    """The finality votes the peer holds for ``target`` and its ancestors above ``above_height``
    (the asker's final height: nothing at or below it can change the asker's finality)."""

    target_height: int
    target_hash: bytes
    above_height: int

    def encode(self) -> bytes:
        return encode({"op": "votes", "height": self.target_height, "hash": self.target_hash, "above": self.above_height})


SyncRequest = BlocksByRange | BlockByHash | VotesBehind


def decode_sync_request(data: bytes) -> SyncRequest:
    r = _read(data, "sync request")
    op = r.choice("op", ("range", "hash", "votes"))
    request: SyncRequest
    if op == "range":
        request = BlocksByRange(start=r.integer("start", low=1), count=r.integer("count", low=1, high=MAX_SYNC_BLOCKS))
    elif op == "hash":
        request = BlockByHash(hash=r.digest("hash"))  # type: ignore[arg-type]
    else:
        request = VotesBehind(
            target_height=r.integer("height", low=1),
            target_hash=r.digest("hash"),  # type: ignore[arg-type]
            above_height=r.integer("above"),
        )
    r.done()
    return request


def encode_blocks(raw_blocks: list[bytes]) -> bytes:
    return encode({"blocks": raw_blocks})


def decode_blocks(data: bytes) -> list[bytes]:
    r = _read(data, "sync response")
    blocks = r.items("blocks", lambda v, w: _bytes(v, w), max_items=MAX_SYNC_BLOCKS, unique=False)
    r.done()
    return list(blocks)


def encode_votes(encoded_votes: list[bytes]) -> bytes:
    return encode({"votes": encoded_votes})


def decode_votes(data: bytes) -> list[bytes]:
    """The encoded votes of an answer to ``VotesBehind`` (each still to decode and check)."""
    r = _read(data, "votes response")
    found = r.items("votes", lambda v, w: _bytes(v, w), max_items=MAX_SYNC_VOTES, unique=False)
    r.done()
    return list(found)


def encode_content_request(cids: list[bytes]) -> bytes:
    return encode({"cids": cids})


def decode_content_request(data: bytes) -> list[bytes]:
    r = _read(data, "content request")
    cids = r.items("cids", lambda v, w: _bytes(v, w), min_items=1, max_items=MAX_CONTENT_CIDS)
    r.done()
    return list(cids)


def encode_content_blocks(blocks: list[tuple[bytes, bytes]]) -> bytes:
    return encode({"blocks": [[cid, data] for cid, data in blocks]})


def decode_content_blocks(data: bytes) -> list[tuple[bytes, bytes]]:
    r = _read(data, "content response")
    pairs = r.items("blocks", _pair, max_items=MAX_CONTENT_CIDS, unique=False)
    r.done()
    return list(pairs)


def encode_event_batch(raw_events: list[bytes]) -> bytes:
    return encode(raw_events)


def decode_event_batch(data: bytes) -> list[bytes]:
    try:
        value = decode(data)
    except DecodeError as exc:
        raise BadMessage(f"event batch: {exc.message}") from None
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_EVENT_BATCH:
        raise BadMessage(f"an event batch is a list of 1 to {MAX_EVENT_BATCH} encoded events")
    return [_bytes(item, "event batch") for item in value]


def encode_event_ids(event_ids: list[bytes]) -> bytes:
    return encode({"ids": event_ids})


def decode_event_ids(data: bytes) -> list[bytes]:
    r = _read(data, "event ids")
    ids = r.items("ids", _event_id, min_items=1, max_items=MAX_BLOCK_EVENTS)
    r.done()
    return list(ids)


def encode_found_events(raw_events: list[bytes]) -> bytes:
    return encode({"events": raw_events})


def decode_found_events(data: bytes) -> list[bytes]:
    r = _read(data, "events by id")
    found = r.items("events", lambda v, w: _bytes(v, w), max_items=MAX_BLOCK_EVENTS, unique=False)
    r.done()
    return list(found)


def _event_id(value: Any, where: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != 32:
        raise BadMessage(f"{where} must hold 32-byte event ids")
    return value


def _bytes(value: Any, where: str) -> bytes:
    if not isinstance(value, bytes):
        raise BadMessage(f"{where} must hold bytes")
    return value


def _pair(value: Any, where: str) -> tuple[bytes, bytes]:
    if not isinstance(value, list) or len(value) != 2:
        raise BadMessage(f"{where} must be [cid, data]")
    return _bytes(value[0], where), _bytes(value[1], where)
