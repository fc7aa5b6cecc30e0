"""Gossip verdicts: ACCEPT, IGNORE (this node's view cannot judge it; nobody is blamed) and
REJECT (wrong whatever the view; the forwarder is scored down), each with its reason."""

from __future__ import annotations

from dataclasses import replace

from node.p2p.gossip_validation import (
    GOSSIP_AHEAD_BLOCKS,
    BlocksInFlight,
    ChainView,
    CurrentView,
    Decoded,
    Verdict,
    VerifiedEvents,
    block_validator,
    event_batch_validator,
    evidence_validator,
)
from node.p2p.messages import encode_event_batch
from protocol.blocks import Block, Header, compute_events_root, encode_compact_block, sign_header
from protocol.encoding import decode, encode
from protocol.events import ParticipantRegister, sign_event
from protocol.keys import SigningKey

AUTHORITY = SigningKey(b"\x01" * 32)
NEWCOMER = SigningKey(b"\x02" * 32)
HEAD = b"\x0a" * 32
OLDER = b"\x0b" * 32
VIEW = ChainView(head_height=10, head_hash=HEAD, authorities=frozenset({AUTHORITY.did}), recent_blocks=frozenset({HEAD, OLDER}))


def block_bytes(key: SigningKey, *, parent: bytes = HEAD, height: int = 11, ts: int = 1) -> bytes:
    header = Header(
        height=height,
        parent=parent,
        ts=ts,
        proposer=key.did,
        events_root=compute_events_root([]),
        state_root=b"\x03" * 32,
        difficulty=2,
    )
    return encode_compact_block(Block(sign_header(key, header), ()))


class Blocks:
    def __init__(self, view: ChainView = VIEW) -> None:
        self.in_flight = BlocksInFlight()
        self.decoded = Decoded()
        self.validate = block_validator(CurrentView(view), self.decoded, lambda event_id: None, self.in_flight)


def test_a_well_signed_block_on_our_head_by_an_authority_is_accepted_and_marked_in_flight() -> None:
    blocks = Blocks()
    data = block_bytes(AUTHORITY)
    assert blocks.validate("peer", data).verdict is Verdict.ACCEPT
    assert blocks.in_flight.has_child_of(HEAD)
    assert blocks.decoded.take(data) is not None


def test_invalid_bytes_are_rejected() -> None:
    judgement = Blocks().validate("peer", b"\x81" * 100)
    assert judgement.verdict is Verdict.REJECT and "invalid block gossip" in judgement.reason


def test_a_bad_signature_is_rejected() -> None:
    wire = decode(block_bytes(AUTHORITY))
    wire["header"]["ts"] = 2  # signed over ts 1
    judgement = Blocks().validate("peer", encode(wire))
    assert judgement.verdict is Verdict.REJECT and "bad signature" in judgement.reason


def test_a_block_on_a_parent_we_do_not_know_is_ignored() -> None:
    judgement = Blocks().validate("peer", block_bytes(AUTHORITY, parent=b"\x0c" * 32))
    assert judgement.verdict is Verdict.IGNORE and "parent we do not know" in judgement.reason


def test_a_new_authoritys_block_after_a_vote_this_node_lacks_is_ignored_not_rejected() -> None:
    # The vote's block is in flight (accepted, not imported): its child by the newcomer
    # is judged by a set that does not hold the newcomer yet.
    blocks = Blocks()
    vote_block = block_bytes(AUTHORITY)
    assert blocks.validate("relay", vote_block).verdict is Verdict.ACCEPT
    vote_hash = blocks.decoded.take(vote_block).hash
    judgement = blocks.validate("relay", block_bytes(NEWCOMER, parent=vote_hash, height=12))
    assert judgement.verdict is Verdict.IGNORE and "not in the authority set known here" in judgement.reason


def test_a_non_authority_block_on_our_head_is_rejected() -> None:
    # The set after our head is the one this block needs: no view excuses it.
    judgement = Blocks().validate("peer", block_bytes(NEWCOMER))
    assert judgement.verdict is Verdict.REJECT and "non-authority" in judgement.reason


def test_a_non_authority_block_on_an_older_known_block_is_ignored() -> None:
    judgement = Blocks().validate("peer", block_bytes(NEWCOMER, parent=OLDER, height=10))
    assert judgement.verdict is Verdict.IGNORE


def test_a_block_far_ahead_of_our_head_is_ignored() -> None:
    judgement = Blocks().validate("peer", block_bytes(AUTHORITY, height=10 + GOSSIP_AHEAD_BLOCKS + 1))
    assert judgement.verdict is Verdict.IGNORE and "far ahead" in judgement.reason


def test_a_block_already_seen_is_ignored() -> None:
    blocks = Blocks()
    data = block_bytes(AUTHORITY)
    assert blocks.validate("one", data).verdict is Verdict.ACCEPT
    assert blocks.validate("other", data).verdict is Verdict.IGNORE
    imported = replace(VIEW, recent_blocks=VIEW.recent_blocks | {blocks.decoded.take(data).hash})
    assert Blocks(imported).validate("peer", data).verdict is Verdict.IGNORE


def test_validators_judge_by_the_view_published_last() -> None:
    view = CurrentView(VIEW)
    validate = block_validator(view, Decoded(), lambda event_id: None, BlocksInFlight())
    data = block_bytes(NEWCOMER)
    assert validate("peer", data).verdict is Verdict.REJECT
    view.publish(replace(VIEW, authorities=VIEW.authorities | {NEWCOMER.did}))
    assert validate("peer", data).verdict is Verdict.ACCEPT


def events_validator() -> tuple[VerifiedEvents, object]:
    verified = VerifiedEvents()
    return verified, event_batch_validator(Decoded(), verified.get, lambda event_id: False, verified)


def test_an_event_batch_is_accepted_and_its_events_remembered_as_verified() -> None:
    verified, validate = events_validator()
    event = sign_event(SigningKey(b"\x05" * 32), ParticipantRegister("p", ("consumer",)), 1, 0)
    assert validate("peer", encode_event_batch([event.raw])).verdict is Verdict.ACCEPT  # type: ignore[operator]
    assert verified.get(event.id) == event


def test_a_forged_or_malformed_event_batch_is_rejected() -> None:
    _, validate = events_validator()
    forged = decode(sign_event(SigningKey(b"\x05" * 32), ParticipantRegister("p", ("consumer",)), 1, 0).raw)
    forged["body"]["name"] = "changed after signing"
    for data in (b"\x00garbage", encode_event_batch([encode(forged)])):
        assert validate("peer", data).verdict is Verdict.REJECT  # type: ignore[operator]


def test_an_oversized_event_batch_is_rejected() -> None:
    _, validate = events_validator()
    judgement = validate("peer", b"\x00" * 1_000_000)  # type: ignore[operator]
    assert judgement.verdict is Verdict.REJECT and "over the limit" in judgement.reason


def test_malformed_evidence_is_rejected() -> None:
    assert evidence_validator(Decoded())("peer", b"\x93\x01\x02\x03").verdict is Verdict.REJECT


def test_a_block_on_a_parent_we_lack_tells_of_a_forwarder_we_may_be_behind() -> None:
    behind: list[str] = []
    validate = block_validator(CurrentView(VIEW), Decoded(), lambda event_id: None, BlocksInFlight(), behind.append)
    validate("ahead", block_bytes(AUTHORITY, parent=b"\x0c" * 32))
    validate("far", block_bytes(AUTHORITY, height=10 + GOSSIP_AHEAD_BLOCKS + 1))
    validate("in step", block_bytes(AUTHORITY))
    validate("stranger", block_bytes(NEWCOMER))
    assert behind == ["ahead", "far"]


def test_only_a_block_that_passes_every_check_counts_as_hearing_from_its_proposer() -> None:
    heard: list[str] = []
    validate = block_validator(CurrentView(VIEW), Decoded(), lambda event_id: None, BlocksInFlight(), heard_from=heard.append)
    forged = bytearray(block_bytes(AUTHORITY))
    forged[-1] ^= 1  # the signature no longer verifies
    validate("forger", bytes(forged))
    validate("stranger", block_bytes(NEWCOMER))
    validate("unplaceable", block_bytes(AUTHORITY, parent=b"\x0c" * 32))
    assert heard == []
    validate("peer", block_bytes(AUTHORITY))
    assert heard == [AUTHORITY.did]
