"""AuthorityLiveness: when each authority was last heard from."""

from __future__ import annotations

from node.chain.liveness import AuthorityLiveness

from .consensus_helpers import FakeClock


def test_never_heard_is_none_then_the_latest_time() -> None:
    clock = FakeClock(1_000)
    liveness = AuthorityLiveness(clock)
    assert liveness.last_heard_ms("did:key:a") is None
    liveness.heard("did:key:a")
    clock.now = 2_500
    liveness.heard("did:key:a")
    assert liveness.last_heard_ms("did:key:a") == 2_500
    assert liveness.last_heard_ms("did:key:b") is None


def test_it_keeps_a_bounded_number_of_authorities_dropping_the_stalest() -> None:
    clock = FakeClock(0)
    liveness = AuthorityLiveness(clock, capacity=2)
    for index, name in enumerate(["a", "b", "a", "c"]):
        clock.now = index
        liveness.heard(name)
    assert liveness.last_heard_ms("b") is None
    assert (liveness.last_heard_ms("a"), liveness.last_heard_ms("c")) == (2, 3)
