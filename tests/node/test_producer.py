"""BlockProducer.plan (when an authority may sign the next block, and when) and produce."""

from __future__ import annotations

import asyncio
import random

import pytest

from node.chain.importer import EXTENDED, SIDE
from node.chain.mempool import PENDING
from node.chain.producer import BlockProducer
from protocol.consensus import alive_window_ms, out_of_turn_delay_ms
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


def test_a_slot_long_past_is_the_last_boundary_before_now_signed_at_once(node, clock):
    clock.now = T0 + 3 * PERIOD_MS + 1
    assert producer(node, A1, clock).plan(node.ledger.head) == (T0 + 3 * PERIOD_MS, T0 + 3 * PERIOD_MS)


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


def test_out_of_turn_delay_counts_from_when_the_parent_arrived(node, forge, clock):
    # Block 1 (ts T0 + 1 s) arrives 1.4 s late: block 2's slot (T0 + 2 s) is already past.
    b1 = forge.block(None, A1)
    late = producer(node, A3, clock, seed=3)  # block 2 is A2's turn
    clock.now = T0 + 2 * PERIOD_MS + 400
    node.import_all(b1)
    clock.now += 50  # the producer plans a little after the import
    delay = out_of_turn_delay_ms(len(AUTHORITIES), PERIOD_MS, random.Random(3))
    assert late.plan(node.ledger.head) == (T0 + 2 * PERIOD_MS, T0 + 2 * PERIOD_MS + 400 + delay)


def test_the_in_turn_authority_signs_a_late_parent_at_once(node, forge, clock):
    b1 = forge.block(None, A1)
    clock.now = T0 + 2 * PERIOD_MS + 400
    node.import_all(b1)
    assert producer(node, A2, clock).plan(node.ledger.head) == (T0 + 2 * PERIOD_MS, T0 + 2 * PERIOD_MS)


def test_out_of_turn_waits_while_the_in_turn_authority_was_heard_lately(node, clock):
    clock.now = T0 + 10
    heard = {A1.did: T0 - 200}
    waiting = BlockProducer(
        node.ledger, node.mempool, A0, clock, lambda block: None, last_heard_ms=heard.get, rng=random.Random(1)
    )
    assert waiting.plan(node.ledger.head)[1] == T0 - 200 + alive_window_ms(len(AUTHORITIES), PERIOD_MS)
    heard[A1.did] = T0 - 10 * PERIOD_MS  # long silent: down, so the plain delay applies
    assert waiting.plan(node.ledger.head) == producer(node, A0, clock, seed=1).plan(node.ledger.head)


def test_out_of_turn_waits_a_whole_window_when_the_in_turn_authority_signed_its_last_turn(node, forge, clock):
    # A1 signed block 1; block 5 is its turn again: it is presumed slow, not down.
    blocks = forge.chain(None, A1, A2, A3, A0)
    waiting = producer(node, A2, clock, seed=1)
    node.import_all(*blocks)
    assert waiting.plan(node.ledger.head)[1] == clock.now + alive_window_ms(len(AUTHORITIES), PERIOD_MS)


def test_an_in_turn_authority_held_by_the_signing_limit_is_not_waited_for(node, forge, clock):
    # A2 signed block 1 out of turn: it may not sign block 2, its own turn, so A3 need not wait for it.
    b1 = forge.block(None, A2)
    node.import_all(b1)
    clock.now = T0 + PERIOD_MS + 10
    heard = {A2.did: clock.now}
    waiting = BlockProducer(node.ledger, node.mempool, A3, clock, lambda block: None, last_heard_ms=heard.get, rng=random.Random(1))
    plain = producer(node, A3, clock, seed=1)
    assert waiting.plan(node.ledger.head) == plain.plan(node.ledger.head)


def test_planning_again_keeps_the_drawn_delay_until_the_head_moves(node, forge, clock):
    clock.now = T0 + 10
    planner = BlockProducer(node.ledger, node.mempool, A0, clock, lambda block: None, rng=random.Random())
    first = planner.plan(node.ledger.head)
    assert all(planner.plan(node.ledger.head) == first for _ in range(20))


def test_run_signs_out_of_turn_once_the_delay_after_the_parent_has_passed(node):
    from node.chain.clock import system_clock

    announced = []

    async def scenario() -> float:
        made = BlockProducer(node.ledger, node.mempool, A0, system_clock, announced.append, rng=random.Random(2))
        started = system_clock()
        task = asyncio.create_task(made.run())
        try:
            await asyncio.wait_for(_until(lambda: announced), timeout=5)
        finally:
            task.cancel()
        return system_clock() - started

    elapsed_ms = asyncio.run(scenario())
    assert [block.header.proposer for block in announced] == [A0.did]
    assert elapsed_ms >= out_of_turn_delay_ms(len(AUTHORITIES), PERIOD_MS, random.Random(2)) - 5


async def _until(condition) -> None:
    while not condition():
        await asyncio.sleep(0.01)


def test_run_out_of_turn_stands_back_a_period_for_a_block_in_flight_on_its_head(node):
    from node.chain.clock import system_clock

    announced = []

    async def scenario() -> float:
        made = BlockProducer(
            node.ledger, node.mempool, A0, system_clock, announced.append, block_in_flight=lambda parent: True, rng=random.Random(2)
        )
        started = system_clock()
        task = asyncio.create_task(made.run())
        try:
            await asyncio.wait_for(_until(lambda: announced), timeout=6)
        finally:
            task.cancel()
        return system_clock() - started

    elapsed_ms = asyncio.run(scenario())
    assert elapsed_ms >= out_of_turn_delay_ms(len(AUTHORITIES), PERIOD_MS, random.Random(2)) + PERIOD_MS - 5


def test_a_slow_chain_stretches_the_wait_for_an_in_turn_authority_that_signed_its_last_turn(node, forge, clock):
    blocks = forge.chain(None, A1, A2, A3, A0)
    waiting = producer(node, A2, clock, seed=1)
    for block in blocks:  # each arrives 6 s after the one before
        clock.now += 6_000
        node.import_all(block)
    assert waiting.block_interval_ms() == 6_000
    assert waiting.plan(node.ledger.head)[1] == clock.now + 12_000
