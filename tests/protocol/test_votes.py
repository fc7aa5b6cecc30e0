"""Finality votes, justifications in headers, and vote evidence: encoding and signatures."""

from __future__ import annotations

from dataclasses import replace

import pytest

from protocol.blocks import Header, parse_header, sign_header
from protocol.encoding import decode, encode
from protocol.errors import InvalidBlock
from protocol.evidence import (
    InvalidEvidence,
    decode_equivocation,
    decode_evidence,
    decode_vote_evidence,
    equivocation,
    vote_evidence,
)
from protocol.keys import Domain
from protocol.votes import (
    Checkpoint,
    InvalidVote,
    Offence,
    decode_vote,
    encode_vote,
    justification_from_votes,
    offence,
    sign_vote,
    unsigned_vote,
)

from .factories import ALICE, BOB, CAROL, TS, digest

GENESIS = Checkpoint(0, digest("genesis"))


def vote(key, target_height: int, target: str = "a", source_height: int | None = None, source: str | None = None):
    source_height = target_height - 1 if source_height is None else source_height
    source_cp = GENESIS if source_height == 0 else Checkpoint(source_height, digest(source or f"a{source_height}"))
    return sign_vote(key, unsigned_vote(key.did, source_cp, Checkpoint(target_height, digest(f"{target}{target_height}"))))


def test_a_vote_round_trips_and_verifies() -> None:
    signed = vote(ALICE, 3)
    data = encode_vote(signed)
    assert decode_vote(data) == signed
    signed.verify()


def test_a_vote_signature_is_bound_to_the_vote_domain() -> None:
    signed = vote(ALICE, 3)
    as_header_sig = ALICE.sign(Domain.HEADER, encode(signed.unsigned_wire()))
    with pytest.raises(InvalidVote, match="does not verify"):
        decode_vote(encode_vote(replace(signed, sig=as_header_sig)))


def test_a_tampered_vote_does_not_verify() -> None:
    signed = vote(ALICE, 3)
    with pytest.raises(InvalidVote, match="does not verify"):
        decode_vote(encode_vote(replace(signed, target_height=4)))


def test_only_the_voter_signs_its_vote() -> None:
    with pytest.raises(InvalidVote, match="signed by its voter"):
        sign_vote(BOB, unsigned_vote(ALICE.did, GENESIS, Checkpoint(1, digest("x"))))


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("v", 2, "vote version 2"),
        ("voter", "did:key:nope", "vote.voter"),
        ("target_hash", b"short", "vote.target_hash"),
        ("source_height", 3, "must be below target_height"),
        ("target_height", 0, "vote.target_height"),
        ("sig", b"x" * 10, "vote.sig"),
        ("extra", 1, "unknown field"),
    ],
)
def test_malformed_votes_are_refused_with_the_field(field, value, message) -> None:
    wire = vote(ALICE, 3).to_wire()
    wire[field] = value
    with pytest.raises(InvalidVote, match=message):
        decode_vote(encode(wire))


def test_a_huge_vote_is_refused_before_decoding() -> None:
    with pytest.raises(InvalidVote, match="over the"):
        decode_vote(b"\x00" * 10_000)


def test_double_and_surround_votes_are_offences() -> None:
    assert offence(vote(ALICE, 5, "a"), vote(ALICE, 5, "b")) is Offence.DOUBLE
    outer = vote(ALICE, 9, source_height=2)
    inner = vote(ALICE, 6, source_height=4)
    assert offence(outer, inner) is Offence.SURROUND
    assert offence(inner, outer) is Offence.SURROUND
    assert offence(vote(ALICE, 5), vote(ALICE, 6)) is None
    assert offence(vote(ALICE, 5, "a"), vote(BOB, 5, "b")) is None
    assert offence(vote(ALICE, 5), vote(ALICE, 5)) is None
    # Shared source, or nested with equal ends: not a strict surround.
    assert offence(vote(ALICE, 9, source_height=2), vote(ALICE, 6, source_height=2)) is None


def test_vote_evidence_round_trips_and_anyone_can_check_it() -> None:
    evidence = vote_evidence(vote(ALICE, 5, "b"), vote(ALICE, 5, "a"))
    assert evidence.offence is Offence.DOUBLE
    assert evidence.voter == ALICE.did
    data = evidence.encode()
    assert decode_vote_evidence(data) == evidence
    assert decode_evidence(data) == evidence
    # One pair, one encoding: the order the votes came in does not matter.
    assert vote_evidence(vote(ALICE, 5, "a"), vote(ALICE, 5, "b")).encode() == data


def test_vote_evidence_must_break_a_rule_and_be_signed() -> None:
    with pytest.raises(InvalidEvidence, match="break no voting rule"):
        vote_evidence(vote(ALICE, 5), vote(ALICE, 6))
    forged = replace(vote(ALICE, 5, "b"), sig=bytes(64))
    with pytest.raises(InvalidEvidence, match="signature"):
        vote_evidence(vote(ALICE, 5, "a"), forged)
    with pytest.raises(InvalidEvidence, match="break no voting rule"):
        vote_evidence(vote(ALICE, 5, "a"), vote(BOB, 5, "b"))


def test_vote_evidence_in_another_order_or_shape_is_refused() -> None:
    evidence = vote_evidence(vote(ALICE, 5, "b"), vote(ALICE, 5, "a"))
    first, second = evidence.vote_bytes()
    with pytest.raises(InvalidEvidence, match="canonical order"):
        decode_vote_evidence(encode({"votes": [second, first]}))
    with pytest.raises(InvalidEvidence, match="only 'votes'"):
        decode_vote_evidence(encode({"votes": [first, second], "x": 1}))
    with pytest.raises(InvalidEvidence, match="evidence vote"):
        decode_vote_evidence(encode({"votes": [first, b"\x00"]}))


def test_decode_evidence_still_reads_equivocations() -> None:
    one = sign_header(ALICE, Header(3, digest("p"), TS, ALICE.did, digest("e"), digest("s"), 2))
    two = sign_header(ALICE, replace(one, ts=TS + 1, sig=b""))
    evidence = equivocation(one, two)
    assert decode_evidence(evidence.encode()) == decode_equivocation(evidence.encode())


def test_a_justification_is_sorted_by_voter_and_rebuilds_signed_votes() -> None:
    votes = [vote(key, 4) for key in (CAROL, ALICE, BOB)]
    justification = justification_from_votes(votes)
    assert list(justification.voters) == sorted(key.did for key in (ALICE, BOB, CAROL))
    for rebuilt in justification.votes_as_objects():
        rebuilt.verify()
    with pytest.raises(InvalidVote, match="same source and target"):
        justification_from_votes([vote(ALICE, 4), vote(BOB, 5)])


def test_headers_carry_justifications_under_their_signature() -> None:
    justification = justification_from_votes([vote(key, 4) for key in (ALICE, BOB, CAROL)])
    header = sign_header(
        ALICE, Header(5, digest("p"), TS, ALICE.did, digest("e"), digest("s"), 2, justifications=(justification,))
    )
    parsed = parse_header(decode(encode(header.to_wire())))
    assert parsed == header
    parsed.verify()
    stripped = replace(header, justifications=())
    with pytest.raises(Exception, match="does not verify"):
        stripped.verify()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda j: {**j, "votes": list(reversed(j["votes"]))}, "sorted by voter"),
        (lambda j: {**j, "votes": j["votes"] + [j["votes"][0]]}, "must not repeat|sorted by voter"),
        (lambda j: {**j, "votes": []}, "must have 1 to"),
        (lambda j: {**j, "source_height": j["target_height"]}, "below its target_height"),
        (lambda j: {**j, "votes": [[j["votes"][0][0], b"x"]]}, "signature must be 64 bytes"),
        (lambda j: {**j, "votes": [["did:key:z", bytes(64)]]}, "not a valid account"),
        (lambda j: {**j, "extra": 1}, "unknown field"),
    ],
)
def test_malformed_justifications_are_refused(change, message) -> None:
    justification = justification_from_votes([vote(key, 4) for key in (ALICE, BOB, CAROL)])
    header = sign_header(
        ALICE, Header(5, digest("p"), TS, ALICE.did, digest("e"), digest("s"), 2, justifications=(justification,))
    )
    wire = header.to_wire()
    wire["justifications"] = [change(justification.to_wire())]
    with pytest.raises(InvalidBlock, match=message):
        parse_header(decode(encode(wire)))


def test_a_header_carries_at_most_four_justifications() -> None:
    justification = justification_from_votes([vote(ALICE, 4)])
    wire = sign_header(ALICE, Header(9, digest("p"), TS, ALICE.did, digest("e"), digest("s"), 2)).to_wire()
    wire["justifications"] = [justification.to_wire()] * 5
    with pytest.raises(InvalidBlock, match="justifications must have 0 to 4"):
        parse_header(decode(encode(wire)))
