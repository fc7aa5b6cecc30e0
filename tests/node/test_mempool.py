"""Mempool.on_new_head: what is re-applied after a block, and what is not."""

from __future__ import annotations

import pytest

import node.chain.mempool as mempool_module
from node.chain.mempool import PENDING, Mempool
from protocol.state import BlockContext
from tests.storage.chain_helpers import key, register_participant

from .consensus_helpers import GENESIS, PERIOD_MS

CONTEXT = BlockContext(1, GENESIS.timestamp + PERIOD_MS)


@pytest.fixture
def applied(monkeypatch) -> list[bytes]:
    """Ids of the events the mempool applies to its pending state, in order."""
    calls: list[bytes] = []
    real = mempool_module.apply_event

    def counting(overlay, event, context):
        calls.append(event.id)
        return real(overlay, event, context)

    monkeypatch.setattr(mempool_module, "apply_event", counting)
    return calls


def filled(node, count: int) -> tuple[Mempool, list]:
    events = [register_participant(key(f"mempool-{index}"), 1, f"p{index}") for index in range(count)]
    for event in events:
        node.mempool.add(event, CONTEXT)
    return node.mempool, events


def test_a_block_of_our_events_in_another_order_re_applies_nothing(node, applied):
    mempool, events = filled(node, 6)
    applied.clear()
    mempool.on_new_head([events[3].id, events[0].id], BlockContext(2, CONTEXT.ts + PERIOD_MS))
    assert applied == []
    assert [event.id for event in mempool.take(100, 10**9)] == [e.id for e in (events[1], events[2], events[4], events[5])]
    assert all(mempool.status(e.id) == PENDING for e in (events[1], events[2], events[4], events[5]))


def test_a_block_with_an_event_we_lack_re_applies_what_waits(node, applied):
    mempool, events = filled(node, 4)
    stranger = register_participant(key("mempool-stranger"), 1, "s")
    applied.clear()
    mempool.on_new_head([events[1].id, stranger.id], BlockContext(2, CONTEXT.ts + PERIOD_MS))
    assert applied == [events[0].id, events[2].id, events[3].id]


def test_the_pending_state_is_rebuilt_once_included_writes_pile_up(node, applied, monkeypatch):
    monkeypatch.setattr(mempool_module, "_STALE_WRITES_SLACK", 1)
    mempool, events = filled(node, 5)
    applied.clear()
    mempool.on_new_head([events[0].id], BlockContext(2, CONTEXT.ts + PERIOD_MS))
    assert applied == []  # 1 included, within 2 x 4 waiting + 1
    mempool.on_new_head([events[1].id, events[2].id, events[3].id], BlockContext(3, CONTEXT.ts + 2 * PERIOD_MS))
    assert applied == [events[4].id]  # 4 included since the last rebuild > 2 x 1 waiting + 1
