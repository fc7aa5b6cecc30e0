"""Proof-of-authority rules without storage: fork choice, out-of-turn delays, header rules, evidence."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from protocol.blocks import Header, sign_header
from protocol.consensus import (
    MAX_FUTURE_DRIFT_MS,
    BranchHead,
    fork_choice_key,
    next_slot_time,
    out_of_turn_delay_ms,
    signing_window,
    validate_header,
)
from protocol.encoding import encode
from protocol.errors import InvalidBlock
from protocol.evidence import MAX_EVIDENCE_BYTES, InvalidEvidence, decode_equivocation, equivocation
from protocol.keys import Domain

from .factories import TS, digest, key

KEYS = tuple(key(n) for n in (31, 32, 33, 34))
AUTH = tuple(k.did for k in KEYS)
OUTSIDER = key(35)
PERIOD = 1000


def branch(td: int, height: int, proposer: str, hash_byte: int = 0x55) -> BranchHead:
    return BranchHead(total_difficulty=td, height=height, proposer=proposer, hash=bytes([hash_byte]) * 32)


def best(*heads: BranchHead) -> BranchHead:
    return max(heads, key=lambda head: fork_choice_key(head, AUTH))


# --- fork choice (EIP-3436) ------------------------------------------------------------


def test_higher_total_difficulty_wins_whatever_the_height() -> None:
    heavy, light = branch(10, 9, AUTH[0]), branch(9, 5, AUTH[1])
    assert best(heavy, light) == heavy
    assert best(light, heavy) == heavy


def test_equal_difficulty_the_lower_height_wins() -> None:
    short, long = branch(10, 6, AUTH[0], 0xFF), branch(10, 7, AUTH[3], 0x00)
    assert best(short, long) == short
    assert best(long, short) == short


def test_equal_difficulty_and_height_the_least_recently_in_turn_proposer_wins() -> None:
    # Height 10 of 4: (10 - index) % 4 is 2, 1, 0, 3 for indexes 0..3: index 3 wins, the in-turn index 2 ranks last.
    heads = [branch(10, 10, did, 0x00) for did in AUTH]
    assert [fork_choice_key(head, AUTH)[3] for head in heads] == [2, 1, 0, 3]
    assert best(*heads).proposer == AUTH[3]
    assert best(*heads[:3]).proposer == AUTH[0]
    # The hash does not override the recency rule.
    assert best(branch(10, 10, AUTH[1], 0x00), branch(10, 10, AUTH[0], 0xFF)).proposer == AUTH[0]


def test_full_tie_the_lowest_hash_wins() -> None:
    low, high = branch(10, 10, AUTH[1], 0x01), branch(10, 10, AUTH[1], 0x02)
    assert best(low, high) == low
    assert best(high, low) == low


def test_proposer_outside_the_set_ranks_as_index_n() -> None:
    outsider = branch(10, 10, OUTSIDER.did)
    assert fork_choice_key(outsider, AUTH)[3] == (10 - len(AUTH)) % len(AUTH)
    assert best(outsider, branch(10, 10, AUTH[3])).proposer == AUTH[3]
    assert best(outsider, branch(10, 10, AUTH[1])).proposer == OUTSIDER.did
    # Still ranked by difficulty first.
    assert best(branch(11, 10, OUTSIDER.did), branch(10, 10, AUTH[3])).proposer == OUTSIDER.did


# --- timing ------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 8])
@pytest.mark.parametrize("period", [10, 999, 1000, 4000])
def test_out_of_turn_delay_is_within_bounds(count: int, period: int) -> None:
    rng = random.Random(count * 10_000 + period)
    delays = [out_of_turn_delay_ms(count, period, rng) for _ in range(300)]
    low, high = period, period + (count // 2 + 1) * period // 4
    assert all(low <= delay <= high for delay in delays), (min(delays), max(delays), low, high)
    assert len(set(delays)) > 1, "the delay must be random, so that out-of-turn authorities do not collide"


def test_out_of_turn_delay_follows_the_seeded_rng() -> None:
    first = [out_of_turn_delay_ms(4, PERIOD, rng) for rng in [random.Random(7)] for _ in range(20)]
    second = [out_of_turn_delay_ms(4, PERIOD, rng) for rng in [random.Random(7)] for _ in range(20)]
    assert first == second


@pytest.mark.parametrize(
    "parent_ts, now, slot",
    [
        (TS, TS, TS + PERIOD),  # one period after the parent
        (TS, TS + 1_500, TS + PERIOD),  # late by less than a period: that slot, signed at once
        (TS, TS + 2_500, TS + 2 * PERIOD),  # late by more: the last boundary before now, signed at once
        (TS + 300, TS, TS + 2 * PERIOD),  # parent off the grid: the boundary after parent + period
        (TS, TS + 2_000, TS + 2 * PERIOD),  # exactly on a boundary
    ],
)
def test_next_slot_time(parent_ts: int, now: int, slot: int) -> None:
    assert next_slot_time(TS, PERIOD, parent_ts, now) == slot


@pytest.mark.parametrize("count, window", [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (7, 4)])
def test_signing_window(count: int, window: int) -> None:
    assert signing_window(count) == window


def test_the_branch_holding_the_higher_justified_block_wins_whatever_its_weight() -> None:
    heavy = replace(branch(40, 20, AUTH[0]), justified_height=9)
    justified = replace(branch(12, 8, AUTH[1]), justified_height=10)
    assert best(heavy, justified) == justified
    # Equal justification: total difficulty and EIP-3436 decide as before.
    assert best(replace(heavy, justified_height=10), justified).total_difficulty == 40


# --- header rules ---------------------------------------------------------------------

PARENT_HASH = digest("parent")
PARENT_HEIGHT = 4
HEIGHT = PARENT_HEIGHT + 1  # authorities[5 % 4] = AUTH[1] is in turn
IN_TURN, OUT_OF_TURN = KEYS[1], KEYS[0]


def header(
    signer=IN_TURN, *, difficulty: int | None = None, height: int = HEIGHT, parent: bytes = PARENT_HASH,
    ts: int = TS + PERIOD,
) -> Header:
    """A signed header; the difficulty defaults to the right one for a signer at HEIGHT."""
    if difficulty is None:
        difficulty = 2 if signer is IN_TURN else 1
    unsigned = Header(
        height=height, parent=parent, ts=ts, proposer=signer.did,
        events_root=digest("events"), state_root=digest("state"), difficulty=difficulty,
    )
    return sign_header(signer, unsigned)


def check(h: Header, *, recent: tuple[str, ...] = (), now: int = TS + PERIOD) -> None:
    validate_header(
        h, parent_hash=PARENT_HASH, parent_height=PARENT_HEIGHT, parent_ts=TS, authorities=AUTH,
        recent_proposers=list(recent), period_ms=PERIOD, now_ms=now,
    )


def refused(h: Header, fragment: str, **kwargs) -> None:
    with pytest.raises(InvalidBlock) as exc:
        check(h, **kwargs)
    assert fragment in exc.value.message, exc.value.message


def test_valid_headers_in_and_out_of_turn() -> None:
    check(header(IN_TURN))
    check(header(OUT_OF_TURN))


def test_header_on_another_parent_is_refused() -> None:
    refused(header(parent=digest("other")), "does not extend block 4")


def test_header_skipping_a_height_is_refused() -> None:
    refused(header(height=HEIGHT + 1), "does not extend block 4")


def test_header_by_a_non_authority_is_refused() -> None:
    refused(header(OUTSIDER), "which is not an authority")


def test_in_turn_header_with_out_of_turn_difficulty_is_refused() -> None:
    refused(header(IN_TURN, difficulty=1), "signed in turn but has difficulty 1, not 2")


def test_out_of_turn_header_with_in_turn_difficulty_is_refused() -> None:
    refused(header(OUT_OF_TURN, difficulty=2), "signed out of turn but has difficulty 2, not 1")


@pytest.mark.parametrize("position", [0, 1])
def test_signing_within_the_window_is_refused(position: int) -> None:
    # 4 authorities: one block in any 3 consecutive, so not if it signed one of the last 2.
    recent = [AUTH[2], AUTH[3]]
    recent[position] = IN_TURN.did
    refused(header(IN_TURN), "signed one of the last 2 blocks", recent=tuple(recent))


def test_signing_just_outside_the_window_is_allowed() -> None:
    check(header(IN_TURN), recent=(AUTH[2], AUTH[3], IN_TURN.did))


def test_header_less_than_a_period_after_its_parent_is_refused() -> None:
    refused(header(ts=TS + PERIOD - 1), "less than one block period after its parent")
    check(header(ts=TS + PERIOD))


def test_header_too_far_in_the_future_is_refused() -> None:
    ts = TS + 10 * PERIOD
    refused(header(ts=ts), "in the future", now=ts - MAX_FUTURE_DRIFT_MS - 1)
    check(header(ts=ts), now=ts - MAX_FUTURE_DRIFT_MS)


# --- equivocation evidence --------------------------------------------------------------


def pair() -> tuple[Header, Header]:
    return header(ts=TS + PERIOD), header(ts=TS + PERIOD + 1)


def test_two_headers_by_one_proposer_at_one_height_are_evidence() -> None:
    first, second = pair()
    evidence = equivocation(first, second)
    assert (evidence.proposer, evidence.height) == (IN_TURN.did, HEIGHT)
    assert evidence.header_bytes() == (encode(first.to_wire()), encode(second.to_wire()))


def test_evidence_round_trips_through_its_encoding() -> None:
    evidence = equivocation(*pair())
    decoded = decode_equivocation(evidence.encode())
    assert decoded == evidence
    assert (decoded.first.hash, decoded.second.hash) == (evidence.first.hash, evidence.second.hash)


def test_the_same_header_twice_is_not_evidence() -> None:
    first, _ = pair()
    with pytest.raises(InvalidEvidence, match="must differ"):
        equivocation(first, first)


def test_headers_at_different_heights_are_not_evidence() -> None:
    with pytest.raises(InvalidEvidence, match="same proposer and height"):
        equivocation(header(), header(height=HEIGHT + 1))


def test_headers_by_different_proposers_are_not_evidence() -> None:
    with pytest.raises(InvalidEvidence, match="same proposer and height"):
        equivocation(header(IN_TURN), header(OUT_OF_TURN))


def test_evidence_with_a_forged_signature_is_refused() -> None:
    first, second = pair()
    # Signed over the right bytes, but by another authority than the proposer it names.
    forged = replace(second, sig=OUT_OF_TURN.sign(Domain.HEADER, encode(second.unsigned_wire())))
    with pytest.raises(InvalidEvidence, match="signature"):
        equivocation(first, forged)
    with pytest.raises(InvalidEvidence, match="signature"):
        decode_equivocation(encode([encode(first.to_wire()), encode(forged.to_wire())]))


@pytest.mark.parametrize(
    "data",
    [
        b"garbage",
        b"\xc1",
        encode([b"\x80", b"\x80"]),  # two empty maps, not headers
        encode([b"not msgpack \xc1", b"x"]),
        encode([1, 2]),
        encode({"first": b"", "second": b""}),
    ],
)
def test_garbage_is_not_evidence(data: bytes) -> None:
    with pytest.raises(InvalidEvidence):
        decode_equivocation(data)


def test_evidence_of_three_headers_is_refused() -> None:
    first, second = pair()
    third = header(ts=TS + PERIOD + 2)
    data = encode([encode(h.to_wire()) for h in (first, second, third)])
    with pytest.raises(InvalidEvidence, match="list of two encoded headers"):
        decode_equivocation(data)


def test_oversize_evidence_is_refused_before_decoding() -> None:
    with pytest.raises(InvalidEvidence, match="over the limit"):
        decode_equivocation(b"\x00" * (MAX_EVIDENCE_BYTES + 1))
