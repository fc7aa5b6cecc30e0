"""When an out-of-turn authority may sign: counted from the parent's arrival, and not while the in-turn one is up."""

from __future__ import annotations

import pytest

from protocol.consensus import alive_window_ms, next_slot_time, out_of_turn_sign_time, signed_in_last_rotation

PERIOD = 1000
N = 4
SLOT = 50_000
DELAY = 1_300


def sign_time(parent_seen: int, heard: int | None = None, slot: int = SLOT, signed_lately: bool = False) -> int:
    return out_of_turn_sign_time(
        slot, parent_seen, DELAY, in_turn_heard_ms=heard, in_turn_signed_lately=signed_lately, authority_count=N, period_ms=PERIOD
    )


def test_alive_window_covers_a_rotation_and_a_period() -> None:
    assert alive_window_ms(4, 1000) == 5000
    assert alive_window_ms(7, 500) == 4000


def test_parent_on_time_counts_from_the_slot() -> None:
    assert sign_time(parent_seen=SLOT - 200) == SLOT + DELAY


def test_late_parent_counts_from_its_arrival_not_the_past_slot() -> None:
    # The parent came 1.4 s after the slot: a timer counted from the slot would fire 0.1 s
    # later, racing the in-turn block that only now can be built.
    late = SLOT + 1_400
    assert sign_time(parent_seen=late) == late + DELAY


def test_in_turn_heard_lately_makes_us_wait_out_its_alive_window() -> None:
    heard = SLOT - 500
    assert sign_time(parent_seen=SLOT, heard=heard) == heard + alive_window_ms(N, PERIOD)


def test_in_turn_heard_long_ago_is_down_and_changes_nothing() -> None:
    long_ago = SLOT - 10 * PERIOD
    assert sign_time(parent_seen=SLOT, heard=long_ago) == SLOT + DELAY


@pytest.mark.parametrize("heard_after_parent_ms", [0, 3_000, 60_000])
def test_an_authority_that_is_up_but_silent_on_this_block_stalls_at_most_one_window(heard_after_parent_ms: int) -> None:
    # Heard from (say, by its votes) while it never signs: the chain still grows.
    parent = SLOT + 200
    assert sign_time(parent_seen=parent, heard=parent + heard_after_parent_ms) <= parent + alive_window_ms(N, PERIOD)


def test_never_earlier_than_the_delay_after_the_parent() -> None:
    for heard in (None, SLOT - 20 * PERIOD, SLOT - 4_800, SLOT, SLOT + 9_000):
        for signed_lately in (False, True):
            assert sign_time(parent_seen=SLOT + 700, heard=heard, signed_lately=signed_lately) >= SLOT + 700 + DELAY


def test_an_in_turn_authority_that_signed_its_last_turn_gets_a_whole_window_after_the_parent() -> None:
    # Slow, not down: under load its block can take seconds to arrive; a race would fork.
    parent = SLOT + 900
    assert sign_time(parent_seen=parent, signed_lately=True) == parent + alive_window_ms(N, PERIOD)
    assert sign_time(parent_seen=parent, heard=SLOT - 30 * PERIOD, signed_lately=True) == parent + alive_window_ms(N, PERIOD)


def test_signed_in_last_rotation_looks_back_n_blocks() -> None:
    recent = ["d", "c", "b", "a", "x"]  # newest first: the head by d
    assert signed_in_last_rotation("a", 4, recent)
    assert not signed_in_last_rotation("x", 4, recent)
    assert not signed_in_last_rotation("y", 4, [])


@pytest.mark.parametrize(
    "parent_ts, now, slot",
    [
        (0, 2_500, 2 * PERIOD),  # over a period late: the boundary just passed, signed at once
        (0, 9_999, 9 * PERIOD),  # idle: no back-dated burst, the next slot is a period ahead
    ],
)
def test_a_slot_past_by_more_than_a_period_is_the_last_boundary_before_now(parent_ts: int, now: int, slot: int) -> None:
    assert next_slot_time(0, PERIOD, parent_ts, now) == slot
    assert next_slot_time(0, PERIOD, slot, now) > now  # the block after it waits for its slot


def test_the_alive_window_stretches_to_two_block_intervals_when_blocks_come_slowly() -> None:
    assert alive_window_ms(4, 1000, block_interval_ms=1_200) == 5000
    assert alive_window_ms(4, 1000, block_interval_ms=8_000) == 16_000
    parent = SLOT + 900
    slow = out_of_turn_sign_time(
        SLOT, parent, DELAY, in_turn_heard_ms=None, in_turn_signed_lately=True, authority_count=N, period_ms=PERIOD, block_interval_ms=8_000
    )
    assert slow == parent + 16_000
