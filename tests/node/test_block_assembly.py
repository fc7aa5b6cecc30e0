"""Compact block gossip: assembling a block from held and fetched events, serving events by
id, the event batcher's flush, and the cache of events the validators verified."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from node.p2p import messages
from node.p2p.block_assembly import BlockAssembler
from node.p2p.gossip import EventBatcher
from node.p2p.gossip_validation import VerifiedEvents, assemble_known
from node.p2p.host import P2PError
from protocol.blocks import Block, CompactBlock, Header, compute_events_root, decode_compact_block, encode_compact_block, sign_header
from protocol.events import Event, ParticipantRegister, sign_event
from protocol.keys import SigningKey

PROPOSER = SigningKey(b"\x01" * 32)


def events(count: int, start: int = 0) -> list[Event]:
    """``count`` events, each by its own account (``start`` keeps sets apart)."""
    return [
        sign_event(SigningKey(bytes([7]) * 31 + bytes([start + i])), ParticipantRegister(f"p{start + i}", ("consumer",)), 1, 0)
        for i in range(count)
    ]


def compact_of(block_events: list[Event]) -> CompactBlock:
    header = Header(
        height=3,
        parent=b"\x02" * 32,
        ts=1,
        proposer=PROPOSER.did,
        events_root=compute_events_root(block_events),
        state_root=b"\x03" * 32,
        difficulty=2,
    )
    block = Block(sign_header(PROPOSER, header), tuple(block_events))
    return decode_compact_block(encode_compact_block(block))


class Peers:
    """Fake peers: what each holds, every request made, and penalties given."""

    def __init__(self, held: dict[str, list[bytes]]) -> None:
        self.held = held
        self.asked: list[tuple[str, list[bytes]]] = []
        self.penalties: list[tuple[str, str]] = []

    async def request(self, peer: str, data: bytes) -> bytes:
        wanted = messages.decode_event_ids(data)
        self.asked.append((peer, wanted))
        answer = self.held[peer]
        if answer == ["unreachable"]:
            raise P2PError("connection closed")
        return messages.encode_found_events(answer)

    async def penalize(self, peer: str, amount: int, reason: str) -> None:
        self.penalties.append((peer, reason))

    def assembler(self, known: dict[bytes, Event], stored: dict[bytes, bytes] | None = None) -> BlockAssembler:
        stored = stored or {}
        return BlockAssembler(known.get, stored.get, self.request, lambda: list(self.held), self.penalize)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_a_block_whose_events_are_all_held_is_assembled_without_asking() -> None:
    block_events = events(4)
    peers = Peers({"publisher": []})
    block = run(peers.assembler({e.id: e for e in block_events}).complete(compact_of(block_events), "publisher"))
    assert block is not None and list(block.events) == block_events
    assert peers.asked == []


def test_events_already_in_our_own_blocks_are_taken_from_the_chain_not_asked_for() -> None:
    # A competing block at our height carries the events of ours, gone from the mempool.
    block_events = events(4, start=20)
    peers = Peers({"publisher": [block_events[3].raw]})
    on_chain = {e.id: e.raw for e in block_events[:3]}
    block = run(peers.assembler({}, on_chain).complete(compact_of(block_events), "publisher"))
    assert block is not None and list(block.events) == block_events
    assert peers.asked == [("publisher", [block_events[3].id])]


def test_missing_events_come_from_the_publishing_peer_first_then_others() -> None:
    block_events = events(5)
    held = {e.id: e for e in block_events[:2]}
    peers = Peers({
        "publisher": [block_events[2].raw],  # has only one of the three missing
        "other": [e.raw for e in block_events[3:]] + [events(1, start=50)[0].raw],  # plus one not asked for
    })
    block = run(peers.assembler(held).complete(compact_of(block_events), "publisher"))
    assert block is not None and list(block.events) == block_events
    assert [peer for peer, _ in peers.asked] == ["publisher", "other"]
    assert peers.asked[0][1] == [e.id for e in block_events[2:]]
    assert peers.asked[1][1] == [e.id for e in block_events[3:]]
    assert peers.penalties == []


def test_no_block_when_no_peer_has_the_events() -> None:
    block_events = events(3)
    peers = Peers({"publisher": ["unreachable"], "other": []})
    assert run(peers.assembler({}).complete(compact_of(block_events), "publisher")) is None
    assert [peer for peer, _ in peers.asked] == ["publisher", "other"]


def test_a_peer_answering_with_a_forged_event_is_penalized_and_others_asked() -> None:
    block_events = events(2)
    forged = Event(**{**block_events[0].__dict__, "sig": bytes(64)})
    forged.__dict__.pop("raw", None)
    forged.__dict__.pop("id", None)
    peers = Peers({"liar": [forged.raw], "honest": [e.raw for e in block_events]})
    block = run(peers.assembler({}).complete(compact_of(block_events), "liar"))
    assert block is not None and list(block.events) == block_events
    assert [peer for peer, _ in peers.penalties] == ["liar"]


def test_serving_events_by_id_from_the_mempool_gossip_or_chain() -> None:
    waiting, on_chain, unknown = events(3, start=10)
    peers = Peers({})
    assembler = peers.assembler({waiting.id: waiting}, {on_chain.id: on_chain.raw})
    answer = run(assembler.serve("peer", messages.encode_event_ids([waiting.id, unknown.id, on_chain.id])))
    assert messages.decode_found_events(answer) == [waiting.raw, on_chain.raw]


@pytest.mark.parametrize("request_bytes", [b"\xc1", messages.encode_event_ids([]), b"\x81\xa3ids\x91\xc4\x01x"])
def test_a_malformed_request_is_penalized(request_bytes: bytes) -> None:
    peers = Peers({})
    assert run(peers.assembler({}).serve("peer", request_bytes)) == b""
    assert [peer for peer, _ in peers.penalties] == ["peer"]


def test_assemble_known_gives_the_block_only_when_every_event_is_known() -> None:
    block_events = events(3)
    compact = compact_of(block_events)
    known = {e.id: e for e in block_events}
    assert isinstance(assemble_known(compact, known.get), Block)
    del known[block_events[1].id]
    assert assemble_known(compact, known.get) is compact


def test_verified_events_keeps_the_most_recent() -> None:
    cache = VerifiedEvents(capacity=3)
    batch = events(5, start=20)
    cache.add(batch[:2])
    cache.add(batch[2:])
    assert [cache.get(e.id) for e in batch] == [None, None, *batch[2:]]


def test_flush_publishes_waiting_events_at_once_and_run_batches_the_rest() -> None:
    published: list[list[bytes]] = []

    async def publish(data: bytes) -> None:
        published.append(messages.decode_event_batch(data))

    async def scenario() -> None:
        batcher = EventBatcher(publish)
        runner = asyncio.ensure_future(batcher.run())
        first = events(3, start=30)
        for event in first:
            batcher.add(event.raw)
        await batcher.flush()
        assert published == [[e.raw for e in first]]
        later = events(2, start=40)
        for event in later:
            batcher.add(event.raw)
        for _ in range(100):
            if len(published) == 2:
                break
            await asyncio.sleep(0.05)
        runner.cancel()
        assert published == [[e.raw for e in first], [e.raw for e in later]]

    run(scenario())
