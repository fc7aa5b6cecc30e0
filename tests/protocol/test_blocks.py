"""Block headers and bodies: signing, strict decoding, and every rejection."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import msgpack
import pytest

from protocol.blocks import (
    MAX_BLOCK_BYTES,
    MAX_BLOCK_EVENTS,
    ZERO_HASH,
    Block,
    Header,
    compute_events_root,
    decode_block,
    decode_block_unchecked,
    decode_compact_block,
    encode_block,
    encode_compact_block,
    parse_header,
    sign_header,
)
from protocol.encoding import decode, encode, sha256
from protocol.errors import DecodeError, InvalidBlock, InvalidSignature
from protocol.events import Event, sign_event
from protocol.keys import Domain
from protocol.merkle import EMPTY_ROOT, verify_merkle_proof

from .factories import ALICE, BOB, CAROL, TS, digest, valid_bodies

BODIES = valid_bodies()


def some_events(count: int = 3) -> tuple[Event, ...]:
    kinds = sorted(BODIES)
    return tuple(sign_event(ALICE, BODIES[kinds[i % len(kinds)]], nonce=i + 1, ts=TS + i) for i in range(count))


def unsigned_header(events: tuple[Event, ...], **changes: Any) -> Header:
    header = Header(
        height=7,
        parent=digest("parent"),
        ts=TS,
        proposer=BOB.did,
        events_root=compute_events_root(events),
        state_root=digest("state"),
        difficulty=2,
    )
    return replace(header, **changes)


def make_block(events: tuple[Event, ...] | None = None, **changes: Any) -> Block:
    events = some_events() if events is None else events
    return Block(sign_header(BOB, unsigned_header(events, **changes)), events)


def invalid(data: bytes, *fragments: str, error: type[Exception] = InvalidBlock) -> None:
    with pytest.raises(error) as exc:
        decode_block(data)
    for fragment in fragments:
        assert fragment in str(exc.value), f"{fragment!r} not in {exc.value}"


def resigned(wire: dict[str, Any]) -> bytes:
    """Re-sign a (tampered) block wire map, so only the rule under test fails."""
    header = dict(wire["header"])
    del header["sig"]
    header["sig"] = BOB.sign(Domain.HEADER, encode(header))
    return encode({"header": header, "events": wire["events"]})


# --- headers -------------------------------------------------------------------------


def test_sign_and_verify_header() -> None:
    header = sign_header(BOB, unsigned_header(()))
    assert len(header.sig) == 64
    header.verify()
    assert header.sig == BOB.sign(Domain.HEADER, encode(header.unsigned_wire()))


def test_header_hash_covers_signature() -> None:
    header = sign_header(BOB, unsigned_header(()))
    assert header.hash == sha256(encode(header.to_wire()))
    assert header.hash != sha256(encode(header.unsigned_wire()))


def test_invalid_sign_header_by_other_key() -> None:
    with pytest.raises(InvalidBlock, match="signed by its proposer"):
        sign_header(ALICE, unsigned_header(()))


@pytest.mark.parametrize(
    "field, value",
    [("height", 8), ("parent", ZERO_HASH), ("ts", TS + 1), ("proposer", CAROL.did), ("events_root", digest("other")), ("state_root", ZERO_HASH), ("difficulty", 1)],
    ids=lambda v: v if isinstance(v, str) and len(v) < 20 else "",
)
def test_invalid_header_field_changed_after_signing(field: str, value: Any) -> None:
    header = replace(sign_header(BOB, unsigned_header(())), **{field: value})
    with pytest.raises(InvalidSignature):
        header.verify()


def test_invalid_header_signed_under_event_domain() -> None:
    unsigned = unsigned_header(())
    header = replace(unsigned, sig=BOB.sign(Domain.EVENT, encode(unsigned.unsigned_wire())))
    with pytest.raises(InvalidSignature):
        header.verify()


def test_parse_header_round_trip() -> None:
    header = sign_header(BOB, unsigned_header(some_events(2)))
    assert parse_header(header.to_wire()) == header


# --- blocks --------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 2, 3, 11])
def test_round_trip(count: int) -> None:
    block = make_block(some_events(count))
    data = encode_block(block)
    assert block.raw == data
    decoded = decode_block(data)
    assert decoded.header == block.header
    assert decoded.events == block.events
    assert decoded.hash == block.hash and decoded.height == 7
    assert decoded.raw == data
    assert [event.raw for event in decoded.events] == [event.raw for event in block.events]


def test_empty_block_has_empty_events_root() -> None:
    block = make_block(())
    assert block.header.events_root == EMPTY_ROOT
    assert decode_block(block.raw).events == ()


def test_events_are_carried_as_their_own_bytes() -> None:
    block = make_block()
    wire = decode(block.raw)
    assert wire["events"] == [event.raw for event in block.events]
    assert block.event_ids == [sha256(raw) for raw in wire["events"]]


def test_event_inclusion_proofs() -> None:
    block = make_block(some_events(6))
    for index, event in enumerate(block.events):
        verify_merkle_proof(event.id, block.proof_for(index), block.header.events_root)


def test_invalid_events_root_mismatch() -> None:
    events = some_events(3)
    block = Block(sign_header(BOB, unsigned_header(events, events_root=compute_events_root(events[:2]))), events)
    invalid(encode_block(block), "header.events_root does not match")


def test_invalid_events_reordered() -> None:
    block = make_block(some_events(3))
    wire = decode(block.raw)
    wire["events"].reverse()
    invalid(encode(wire), "events_root does not match")


def test_invalid_event_dropped() -> None:
    wire = decode(make_block(some_events(3)).raw)
    wire["events"].pop()
    invalid(encode(wire), "events_root does not match")


def test_invalid_duplicate_events() -> None:
    event = some_events(1)[0]
    events = (event, event)
    block = Block(sign_header(BOB, unsigned_header(events)), events)
    invalid(encode_block(block), "same event twice")


def test_invalid_tampered_header_signature() -> None:
    wire = decode(make_block().raw)
    wire["header"]["sig"] = bytes([wire["header"]["sig"][0] ^ 1]) + wire["header"]["sig"][1:]
    invalid(encode(wire), "signature does not verify", error=InvalidSignature)


def test_invalid_tampered_header_field() -> None:
    wire = decode(make_block().raw)
    wire["header"]["state_root"] = ZERO_HASH
    invalid(encode(wire), BOB.did, error=InvalidSignature)


def test_invalid_proposer_swapped() -> None:
    wire = decode(make_block().raw)
    wire["header"]["proposer"] = CAROL.did
    invalid(encode(wire), CAROL.did, error=InvalidSignature)


def test_invalid_oversized() -> None:
    data = make_block().raw
    assert decode_block(data, max_bytes=len(data)).hash == make_block().hash
    with pytest.raises(InvalidBlock, match=f"block is {len(data)} bytes; the limit is {len(data) - 1}"):
        decode_block(data, max_bytes=len(data) - 1)
    invalid(b"\x00" * (MAX_BLOCK_BYTES + 1), f"the limit is {MAX_BLOCK_BYTES}")


def test_invalid_non_canonical_bytes() -> None:
    wire = decode(make_block().raw)
    header_backwards = dict(reversed(list(wire["header"].items())))
    data = msgpack.packb({"header": header_backwards, "events": wire["events"]}, use_bin_type=True)
    invalid(data, "not canonical", error=DecodeError)
    outer_backwards = msgpack.packb({"header": wire["header"], "events": wire["events"]}, use_bin_type=True)
    invalid(outer_backwards, "not canonical", error=DecodeError)
    invalid(make_block().raw + b"\x00", "trailing", error=DecodeError)


def test_invalid_height_zero() -> None:
    invalid(make_block(height=0).raw, "header.height must be between 1")


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("v", 1, "header version 1 is not supported"),
        ("difficulty", 0, "header.difficulty must be between 1 and 2"),
        ("difficulty", 3, "header.difficulty must be between 1 and 2"),
        ("parent", b"\x00" * 31, "header.parent must be 32 bytes"),
        ("events_root", "root", "header.events_root must be 32 bytes"),
        ("state_root", None, "header.state_root must be 32 bytes"),
        ("proposer", "bob", "header.proposer is not a valid account"),
        ("ts", -1, "header.ts must be between 0"),
        ("height", "7", "header.height must be an integer"),
    ],
)
def test_invalid_header_fields(field: str, value: Any, fragment: str) -> None:
    wire = decode(make_block(()).raw)
    wire["header"][field] = value
    invalid(resigned(wire), fragment)


@pytest.mark.parametrize("field", ["v", "height", "parent", "ts", "proposer", "events_root", "state_root", "difficulty", "justifications", "sig"])
def test_invalid_missing_header_field(field: str) -> None:
    wire = decode(make_block(()).raw)
    del wire["header"][field]
    invalid(encode(wire), f"header.{field} is missing")


def test_invalid_unknown_header_field() -> None:
    wire = decode(make_block(()).raw)
    wire["header"]["votes"] = []
    invalid(resigned(wire), "header has unknown field(s): votes")


@pytest.mark.parametrize("sig", [b"", b"\x00" * 63, "s" * 64])
def test_invalid_header_sig_shape(sig: Any) -> None:
    wire = decode(make_block(()).raw)
    wire["header"]["sig"] = sig
    invalid(encode(wire), "header.sig must be 64 bytes")


def test_invalid_block_shape() -> None:
    block = make_block(())
    header = block.header.to_wire()
    invalid(encode([header, []]), "block must be a map")
    invalid(encode({"header": header}), "block.events is missing")
    invalid(encode({"events": []}), "block.header is missing")
    invalid(encode({"header": header, "events": [], "extra": 1}), "block has unknown field(s): extra")
    invalid(encode({"header": header, "events": {}}), "block.events must be a list")
    invalid(encode({"header": "h", "events": []}), "header must be a map")


def test_invalid_event_not_bytes() -> None:
    events = some_events(1)
    wire = decode(make_block(events).raw)
    wire["events"][0] = decode(wire["events"][0])  # the event as a nested map, not its bytes
    invalid(encode(wire), "block.events[0] must be an encoded event")


def test_invalid_event_inside_block() -> None:
    events = some_events(2)
    forged = replace(events[1], sig=bytes(64))
    invalid(make_block((events[0], forged)).raw, "block.events[1]:", "signature does not verify")


def test_events_root_is_checked_before_any_signature() -> None:
    events = some_events(2)
    wire = decode(make_block(events).raw)
    bad = decode(wire["events"][1])
    bad["sig"] = bytes(64)
    wire["events"][1] = encode(bad)  # not the event the header commits to, and not signed
    invalid(encode(wire), "events_root does not match")


def test_unchecked_decode_owes_each_signature_it_skipped() -> None:
    events = some_events(3)
    block = make_block(events)
    decoded, owed = decode_block_unchecked(block.raw)
    assert decoded.hash == block.hash and decoded.event_ids == block.event_ids
    assert [o.where for o in owed] == ["block.events[0]", "block.events[1]", "block.events[2]", None]
    for signature in owed:
        signature.run()
    known = {events[1].id: events[1]}
    _, owed = decode_block_unchecked(block.raw, known_events=known.get)
    assert [o.where for o in owed] == ["block.events[0]", "block.events[2]", None]


def test_an_owed_signature_fails_as_decode_block_would() -> None:
    events = some_events(2)
    forged_event = make_block((events[0], replace(events[1], sig=bytes(64))))
    _, owed = decode_block_unchecked(forged_event.raw)
    owed[0].run()
    with pytest.raises(InvalidBlock, match=r"block\.events\[1\]: signature does not verify"):
        owed[1].run()
    forged_header = replace(make_block(events).header, sig=bytes(64))
    _, owed = decode_block_unchecked(Block(forged_header, events).raw)
    with pytest.raises(InvalidSignature):
        owed[-1].run()


def test_invalid_malformed_event_inside_block() -> None:
    wire = decode(make_block(some_events(1)).raw)
    wire["events"][0] = b"\xc1"
    invalid(encode(wire), "block.events[0]:")


# --- compact blocks (gossip) -------------------------------------------------------------


def test_compact_block_round_trip_and_assembly() -> None:
    block = make_block(some_events(5))
    compact = decode_compact_block(encode_compact_block(block))
    assert compact.header == block.header and compact.hash == block.hash
    assert list(compact.event_ids) == block.event_ids
    assembled = compact.assemble(list(block.events))
    assert assembled.raw == block.raw
    assert len(encode_compact_block(block)) < len(block.raw)


def test_compact_block_assembly_refuses_other_events() -> None:
    block = make_block(some_events(3))
    compact = decode_compact_block(encode_compact_block(block))
    with pytest.raises(InvalidBlock, match="not the ones its header commits to"):
        compact.assemble(list(reversed(block.events)))


def _compact_wire(block: Block) -> dict[str, Any]:
    return decode(encode_compact_block(block))


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda wire: wire["ids"].reverse(), "events_root does not match"),
        (lambda wire: wire["ids"].pop(), "events_root does not match"),
        (lambda wire: wire["ids"].append(wire["ids"][0]), "same event twice"),
        (lambda wire: wire["ids"].__setitem__(0, b"\x01" * 31), "32-byte event ids"),
        (lambda wire: wire.__setitem__("ids", b"not a list"), "must be a list"),
        (lambda wire: wire.__setitem__("events", []), "events"),
        (lambda wire: wire["header"].__setitem__("height", 8), "signature does not verify"),
    ],
)
def test_compact_block_rejections(change: Any, fragment: str) -> None:
    wire = _compact_wire(make_block(some_events(3)))
    change(wire)
    with pytest.raises((InvalidBlock, InvalidSignature), match=fragment):
        decode_compact_block(encode(wire))


def test_compact_block_size_and_count_limits() -> None:
    with pytest.raises(InvalidBlock, match="limit"):
        decode_compact_block(b"\x00" * (MAX_BLOCK_BYTES + 1))
    wire = _compact_wire(make_block(()))
    wire["ids"] = [sha256(index.to_bytes(4, "big")) for index in range(MAX_BLOCK_EVENTS + 1)]
    with pytest.raises(InvalidBlock, match=f"at most {MAX_BLOCK_EVENTS}"):
        decode_compact_block(encode(wire))
