"""BlockProducer.plan (when an authority may sign the next block, and when) and produce."""

from __future__ import annotations

import random

import pytest

from node.chain.importer import EXTENDED, SIDE
from node.chain.mempool import PENDING
from node.chain.producer import BlockProducer
from protocol.consensus import out_of_turn_delay_ms
from protocol.errors import BlockRule, InvalidBlock
from protocol.state import BlockContext
from tests.storage.chain_helpers import key, register_participant

from .consensus_helpers import AUTHORITIES, GENESIS, PERIOD_MS

A0, A1, A2, A3 = AUTHORITIES
T0 = GENESIS.timestamp


def producer(node, signer, clock, seed: int = 1) -> BlockProducer:
    return BlockProducer(node.ledger, node.mempool, signer, clock, lambda block: None, rng=random.Random(seed))


def test_in_turn_authority_signs_at_the_slot(node, clock):
    clock.now = T0 + 10
    assert producer(node, A1, clock).plan(node.ledger.head) == (T0 + PERIOD_MS, T0 + PERIOD_MS)


def test_the_slot_is_the_next_boundary_not_before_now(node, clock):
    clock.now = T0 + 3 * PERIOD_MS + 1
    assert producer(node, A1, clock).plan(node.ledger.head) == (T0 + 4 * PERIOD_MS, T0 + 4 * PERIOD_MS)


def test_out_of_turn_authority_signs_later_by_the_random_delay(node, clock):
    clock.now = T0 + 10
    slot = T0 + PERIOD_MS
    for seed in range(5):
        plan = producer(node, A0, clock, seed).plan(node.ledger.head)
        assert plan == (slot, slot + out_of_turn_delay_ms(len(AUTHORITIES), PERIOD_MS, random.Random(seed)))
        assert plan[1] - slot >= PERIOD_MS


def test_a_non_authority_never_plans(node, clock):
    assert producer(node, key("outsider"), clock).plan(node.ledger.head) is None


def test_no_plan_while_within_the_signing_window(node, forge, clock):
    # Four authorities: at most one block in any three, so not after signing one of the last two.
    b1, b2, b3 = forge.chain(None, A1, A2, A3)
    mine = producer(node, A1, clock)
    node.import_all(b1)
    assert mine.plan(node.ledger.head) is None
    node.import_all(b2)
    assert mine.plan(node.ledger.head) is None
    node.import_all(b3)
    assert mine.plan(node.ledger.head) is not None
    assert producer(node, A2, clock).plan(node.ledger.head) is None


def test_no_second_child_of_one_parent_but_a_new_parent_may_be_signed(node, forge, clock):
    b1 = forge.block(None, A1)  # TD 2
    b2 = forge.block(b1, A0)  # A0 signs height 2 on b1 (out of turn)
    c1 = forge.block(None, A2)  # TD 1
    assert node.import_all(b1, b2, c1) == [EXTENDED, EXTENDED, SIDE]
    # Back on b1 (as after a reorg), A0 must not sign a second child of b1 ...
    rewind = producer(node, A0, clock)
    tip_b1 = node.ledger.chain.tip_of(b1.hash)
    assert rewind._signed_on(tip_b1), "a second child of b1 would be equivocation"
    # ... but on another parent at the same height it may (or the chain could stall).
    assert not rewind._signed_on(node.ledger.chain.tip_of(c1.hash))


@pytest.mark.parametrize("signer, difficulty", [(A1, 2), (A0, 1)], ids=["in-turn", "out-of-turn"])
def test_produced_block_carries_the_mempool_and_imports_elsewhere(start, clock, signer, difficulty):
    mine, theirs = start("mine"), start("theirs")
    clock.now = T0 + 10
    alice = key("alice")
    event = register_participant(alice, 1, "alice")
    mine.mempool.add(event, BlockContext(1, T0 + PERIOD_MS))
    made = producer(mine, signer, clock)
    slot, _ = made.plan(mine.ledger.head)
    block = made.produce(slot)
    assert (block.height, block.header.ts, block.header.difficulty) == (1, slot, difficulty)
    assert block.events == (event,)
    assert mine.ledger.head.hash == block.hash and mine.mempool.status(event.id) is None
    assert theirs.importer.import_block(block) == EXTENDED
    assert theirs.state() == mine.state()


def test_produce_signs_nothing_the_rules_refuse(node, forge, clock):
    # plan() stands back within the signing window; produce() itself goes through the same
    # rules, so a call that ignores the plan still signs nothing.
    b1 = forge.block(None, A1)
    node.import_all(b1)
    event = register_participant(key("alice"), 1, "alice")
    node.mempool.add(event, BlockContext(2, T0 + 2 * PERIOD_MS))
    with pytest.raises(InvalidBlock) as refused:
        producer(node, A1, clock).produce(T0 + 2 * PERIOD_MS)
    assert refused.value.rule == BlockRule.SIGNING_LIMIT
    assert node.ledger.head.hash == b1.hash
    assert node.mempool.status(event.id) == PENDING
