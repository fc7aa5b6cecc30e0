"""state_transition and build_block: every rule of a block on its parent, each named by InvalidBlock.rule."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from protocol.blocks import Block, Header, compute_events_root, sign_header
from protocol.consensus import MAX_FUTURE_DRIFT_MS
from protocol.errors import BlockRule, InvalidBlock
from protocol.events import Event, ParticipantRegister, sign_event
from protocol.genesis import Genesis
from protocol.state import BlockContext, apply_block, genesis_writes
from protocol.finality import HeaderFinality
from protocol.transition import FinalityContext, build_block, state_transition
from protocol.votes import Checkpoint, justification_from_votes, sign_vote, unsigned_vote

from .factories import ALICE, TS, digest, key

KEYS = tuple(key(n) for n in (41, 42, 43, 44))
OUTSIDER = key(45)
PERIOD = 1000
GENESIS = Genesis("transition-test", TS, tuple(k.did for k in KEYS), PERIOD, ())
STATE = {k: v for k, v in genesis_writes(GENESIS).items() if v is not None}


@dataclass(frozen=True)
class Tip:
    height: int
    hash: bytes
    state_root: bytes
    ts: int


PARENT = Tip(height=4, hash=digest("parent"), state_root=digest("parent state"), ts=TS)
IN_TURN, OUT_OF_TURN = KEYS[5 % 4], KEYS[0]
"""At height 5, KEYS[1] is in turn."""
NOW = TS + PERIOD
CHAIN = {0: GENESIS.hash, 1: digest("b1"), 2: digest("b2"), 3: digest("b3"), 4: PARENT.hash}
CARRIED = HeaderFinality(justified=Checkpoint(2, CHAIN[2]), final=Checkpoint(1, CHAIN[1]))
SHOWN_JUSTIFIED = {Checkpoint(0, CHAIN[0]), Checkpoint(1, CHAIN[1]), CARRIED.justified}
"""What the chain's headers showed justified, up to the parent."""
FINALITY = FinalityContext(CARRIED, CHAIN.get, lambda height: tuple(k.did for k in KEYS), SHOWN_JUSTIFIED.__contains__)


def justification(source: int, target: int, signers=KEYS):
    source_cp, target_cp = Checkpoint(source, CHAIN[source]), Checkpoint(target, CHAIN[target])
    return justification_from_votes([sign_vote(k, unsigned_vote(k.did, source_cp, target_cp)) for k in signers])


def register(signer=ALICE, nonce: int = 1) -> Event:
    return sign_event(signer, ParticipantRegister(name="alice", roles=("creator",)), nonce, TS)


def block(signer=IN_TURN, events: tuple[Event, ...] = (), **overrides) -> Block:
    """A block by ``signer`` on PARENT with the right difficulty and state root unless overridden."""
    height = PARENT.height + 1
    ts = overrides.pop("ts", PARENT.ts + PERIOD)
    result = apply_block(STATE, events, BlockContext(height, ts), PARENT.state_root)
    header = Header(
        height=height,
        parent=PARENT.hash,
        ts=ts,
        proposer=signer.did,
        events_root=compute_events_root(events),
        state_root=result.state_root,
        difficulty=2 if signer is IN_TURN else 1,
    )
    return Block(sign_header(signer, replace(header, **overrides)), events)


def transition(candidate: Block, *, recent: tuple[str, ...] = (), now: int = NOW, signature_checked: bool = False):
    return state_transition(
        PARENT, STATE, list(recent), candidate, period_ms=PERIOD, now_ms=now, signature_checked=signature_checked,
        finality=FINALITY,
    )


def broken_rule(candidate: Block, **kwargs) -> BlockRule:
    with pytest.raises(InvalidBlock) as exc:
        transition(candidate, **kwargs)
    assert f"block {candidate.height}" in exc.value.message or "may not sign block" in exc.value.message
    return exc.value.rule


def test_a_good_block_returns_the_new_state_root() -> None:
    events = (register(),)
    good = block(IN_TURN, events)
    result = transition(good)
    assert result.state_root == good.header.state_root
    assert result.state_root == apply_block(STATE, events, BlockContext(5, good.header.ts), PARENT.state_root).state_root
    assert result.writes and len(result.touched) == 1
    assert transition(block(OUT_OF_TURN)).state_root == block(OUT_OF_TURN).header.state_root


def test_invalid_parent() -> None:
    assert broken_rule(block(parent=digest("another"))) == BlockRule.PARENT
    assert broken_rule(block(height=PARENT.height + 2)) == BlockRule.PARENT


def test_invalid_proposer_outside_the_authority_set() -> None:
    assert broken_rule(block(OUTSIDER, difficulty=1)) == BlockRule.AUTHORITY


def test_invalid_difficulty_for_the_turn() -> None:
    assert broken_rule(block(IN_TURN, difficulty=1)) == BlockRule.DIFFICULTY
    assert broken_rule(block(OUT_OF_TURN, difficulty=2)) == BlockRule.DIFFICULTY


def test_invalid_signing_limit() -> None:
    # Four authorities: one block in any three, so not after signing one of the last two.
    assert broken_rule(block(IN_TURN), recent=(KEYS[3].did, IN_TURN.did)) == BlockRule.SIGNING_LIMIT
    transition(block(IN_TURN), recent=(KEYS[3].did, KEYS[2].did, IN_TURN.did))


def test_invalid_signature() -> None:
    forged = block(IN_TURN)
    forged = Block(replace(forged.header, sig=bytes(64)), forged.events)
    assert broken_rule(forged) == BlockRule.SIGNATURE


def test_an_already_checked_signature_is_not_checked_again() -> None:
    # The importer's callers verified it on decode (or in the signature worker): no second check.
    forged = block(IN_TURN)
    forged = Block(replace(forged.header, sig=bytes(64)), forged.events)
    assert transition(forged, signature_checked=True).state_root == forged.header.state_root


def test_invalid_timestamp_less_than_a_period_after_the_parent() -> None:
    assert broken_rule(block(ts=PARENT.ts + PERIOD - 1)) == BlockRule.TIMESTAMP


def test_invalid_timestamp_too_far_in_the_future() -> None:
    ts = PARENT.ts + 10 * PERIOD
    assert broken_rule(block(ts=ts), now=ts - MAX_FUTURE_DRIFT_MS - 1) == BlockRule.FUTURE
    transition(block(ts=ts), now=ts - MAX_FUTURE_DRIFT_MS)


def test_invalid_event_the_state_refuses() -> None:
    gap = register(nonce=2)
    unapplied = block(IN_TURN, state_root=digest("anything"), events_root=compute_events_root([gap]))
    unapplied = Block(unapplied.header, (gap,))
    assert broken_rule(unapplied) == BlockRule.EVENT


def test_invalid_state_root() -> None:
    assert broken_rule(block(IN_TURN, state_root=digest("wrong"))) == BlockRule.STATE_ROOT


def test_the_header_rules_come_before_the_body() -> None:
    # Cheap checks first: a block by an outsider is refused without applying its events.
    assert broken_rule(block(OUTSIDER, difficulty=1, state_root=digest("wrong"))) == BlockRule.AUTHORITY


# --- build_block ------------------------------------------------------------------------


def build(signer, candidates, *, recent: tuple[str, ...] = (), ts: int = PARENT.ts + PERIOD, justifications=()):
    return build_block(
        PARENT, STATE, list(recent), candidates, key=signer, ts=ts, period_ms=PERIOD, now_ms=NOW, finality=FINALITY,
        justifications=justifications,
    )


@pytest.mark.parametrize("signer, difficulty", [(IN_TURN, 2), (OUT_OF_TURN, 1)], ids=["in-turn", "out-of-turn"])
def test_a_built_block_passes_the_transition_with_the_same_result(signer, difficulty) -> None:
    good, gap = register(), register(KEYS[2], nonce=3)
    built = build(signer, [good, gap])
    assert built.block.events == (good,)
    assert built.block.header.difficulty == difficulty
    assert [(event, "leaves a gap" in reason) for event, reason in built.refused] == [(gap, True)]
    assert transition(built.block) == built.result


def test_build_block_refuses_to_sign_what_the_rules_refuse() -> None:
    with pytest.raises(InvalidBlock) as exc:
        build(IN_TURN, [], recent=(IN_TURN.did,))
    assert exc.value.rule == BlockRule.SIGNING_LIMIT
    with pytest.raises(InvalidBlock) as exc:
        build(OUTSIDER, [])
    assert exc.value.rule == BlockRule.AUTHORITY
    with pytest.raises(InvalidBlock) as exc:
        build(IN_TURN, [], ts=PARENT.ts + PERIOD - 1)
    assert exc.value.rule == BlockRule.TIMESTAMP


# --- justifications -----------------------------------------------------------------------


def test_a_block_without_justifications_keeps_its_parents_finality() -> None:
    assert transition(block(IN_TURN)).finality == CARRIED


def test_carried_justifications_move_the_header_finality() -> None:
    result = transition(block(IN_TURN, justifications=(justification(2, 3), justification(3, 4))))
    assert result.finality == HeaderFinality(justified=Checkpoint(4, CHAIN[4]), final=Checkpoint(3, CHAIN[3]))


def test_a_bad_justification_breaks_the_justification_rule() -> None:
    assert broken_rule(block(IN_TURN, justifications=(justification(3, 4),))) == BlockRule.JUSTIFICATION
    assert broken_rule(block(IN_TURN, justifications=(justification(2, 3, KEYS[:2]),))) == BlockRule.JUSTIFICATION


def test_a_justification_may_build_on_any_block_the_headers_showed_justified() -> None:
    # Block 1 was shown justified before block 2: a link 1 -> 3 justifies 3 (but finalizes nothing).
    result = transition(block(IN_TURN, justifications=(justification(1, 3),)))
    assert result.finality == HeaderFinality(justified=Checkpoint(3, CHAIN[3]), final=CARRIED.final)
    # Block 3 never was: a link from it is refused, as from a block the chain does not hold.
    assert broken_rule(block(IN_TURN, justifications=(justification(3, 4),))) == BlockRule.JUSTIFICATION


def test_build_block_carries_justifications_and_refuses_bad_ones() -> None:
    built = build(IN_TURN, [], justifications=(justification(2, 3),))
    assert built.block.header.justifications == (justification(2, 3),)
    assert built.result.finality == HeaderFinality(justified=Checkpoint(3, CHAIN[3]), final=Checkpoint(2, CHAIN[2]))
    assert transition(built.block) == built.result
    with pytest.raises(InvalidBlock) as exc:
        build(IN_TURN, [], justifications=(justification(3, 4),))
    assert exc.value.rule == BlockRule.JUSTIFICATION
