"""The consensus simulation: thousands of seeded runs, each checking every invariant.

A failing seed is reported as the one-line command that replays it.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

import protocol.finality
from protocol.keys import Domain, SigningKey
from protocol.votes import Checkpoint, Vote, sign_vote

from . import node as sim_node
from .conftest import SESSION_SUMMARY, seed_range
from .network import LinkModel, Network
from .run import run_seed, signer
from .scenario import draw
from .scheduler import Scheduler
from .signatures import FastSigner

CHUNK = 250


def _chunks(config: pytest.Config) -> list[range]:
    seeds = seed_range(config)
    return [range(start, min(start + CHUNK, seeds.stop)) for start in range(seeds.start, seeds.stop, CHUNK)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "seeds" in metafunc.fixturenames:
        chunks = _chunks(metafunc.config)
        metafunc.parametrize("seeds", chunks, ids=[f"seeds{c.start}-{c.stop - 1}" for c in chunks])


def test_every_invariant_holds_for_every_seed(seeds: range) -> None:
    failures = []
    started = time.perf_counter()
    for seed in seeds:
        result = run_seed(seed)
        SESSION_SUMMARY.add(result)
        if result.violations:
            failures.append(f"{result.replay}  # {result.violations[0]}")
    SESSION_SUMMARY.seconds += time.perf_counter() - started
    assert not failures, "seeds that break an invariant:\n" + "\n".join(failures)


def test_a_seed_replays_exactly() -> None:
    assert run_seed(11) == run_seed(11)


def _violations(seeds: range) -> list[str]:
    return [violation for seed in seeds for violation in run_seed(seed).violations]


def test_a_quorum_of_half_is_caught_as_conflicting_final_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    # More than half instead of more than two thirds: a liar voting on both sides of a split
    # gives each side its "quorum". The invariants must see it, or they could never fail.
    half = lambda count: count // 2 + 1  # noqa: E731
    monkeypatch.setattr(protocol.finality, "quorum", half)
    monkeypatch.setattr(sim_node, "quorum", half)
    assert any("conflicting final blocks" in violation for violation in _violations(range(0, 300)))


def _stalls(seeds: range) -> bool:
    return any("finalized no block made after the heal" in violation for violation in _violations(seeds))


def test_without_fetching_the_votes_behind_a_justified_block_some_seed_stalls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim_node.SimNode, "_answer_get_votes", lambda self, sender, justified: None)
    assert _stalls(range(0, 150))


def test_headers_that_may_only_build_on_the_latest_justified_block_let_some_seed_stall(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim_node.SimNode, "carried_justified", lambda self, block_hash, checkpoint: checkpoint.height == 0)
    assert _stalls(range(0, 150))


def test_every_run_injects_faults_and_byzantine_authorities_stay_under_a_third() -> None:
    scenarios = [draw(seed) for seed in range(200)]
    assert all(scenario.partitions for scenario in scenarios)
    assert sum(bool(scenario.crashes) for scenario in scenarios) > 100
    assert sum(bool(scenario.byzantine) for scenario in scenarios) > 50
    assert all(3 * len(scenario.byzantine) < scenario.authorities for scenario in scenarios)
    assert all(crash.up_ms <= scenario.heal_ms for scenario in scenarios for crash in scenario.crashes)


def test_the_fast_signer_makes_the_signatures_signing_key_makes() -> None:
    key = SigningKey(bytes(range(32)))
    unsigned = Vote(voter=key.did, target_height=3, target_hash=b"\x01" * 32, source_height=2, source_hash=b"\x02" * 32)
    fast = FastSigner(key)
    assert fast.sign_vote(unsigned) == sign_vote(key, unsigned)
    assert fast.sign(Domain.HEADER, b"x") == key.sign(Domain.HEADER, b"x")
    assert signer(0).did == signer(0).key.did


class _Inbox:
    def __init__(self, index: int) -> None:
        self.index = index
        self.up = True
        self.got: list[tuple[int, object]] = []

    def receive(self, sender: int, message: object) -> None:
        self.got.append((sender, message))


def test_a_partition_cuts_only_across_sides_and_a_heal_restores_it() -> None:
    import random

    scheduler = Scheduler(0)
    network = Network(scheduler, random.Random(1), LinkModel(min_delay_ms=5, max_delay_ms=5))
    network.peers = [_Inbox(i) for i in range(3)]
    network.partition([(0,), (1,)])  # node 2 is on no side: it reaches both, as a liar does
    for receiver in (1, 2):
        network.send(0, receiver, "cut?")
    scheduler.run_until(10)
    assert network.peers[1].got == [] and network.peers[2].got == [(0, "cut?")]
    network.heal()
    network.send(0, 1, "healed")
    network.peers[1].up = False
    network.send(0, 1, "while down")  # judged at send, lost on arrival
    scheduler.run_until(20)
    assert network.peers[1].got == []
    network.peers[1].up = True
    network.send(0, 1, "back")
    scheduler.run_until(30)
    assert network.peers[1].got == [(0, "back")]


def test_the_scheduler_runs_in_time_order_and_skips_cancelled_timers() -> None:
    scheduler = Scheduler(100)
    ran: list[str] = []
    scheduler.at(130, lambda: ran.append("c"))
    scheduler.after(10, lambda: ran.append("a"))
    scheduler.after(10, lambda: ran.append("b"))
    scheduler.after(20, lambda: ran.append("never")).cancel()
    scheduler.run_until(200)
    assert ran == ["a", "b", "c"] and scheduler.now == 200


def test_a_vote_from_an_unknown_authority_or_with_a_bad_signature_is_not_counted() -> None:
    from .invariants import Observer
    from .node import Chain, SimNode

    scheduler = Scheduler(0)
    network = Network(scheduler, __import__("random").Random(0), LinkModel())
    chain = Chain(b"\x07" * 32, 0, 1000, (signer(0).did, signer(1).did, signer(2).did, signer(3).did))
    node = SimNode(0, signer(0), chain, scheduler, network, __import__("random").Random(0), Observer())
    target = Checkpoint(1, b"\x08" * 32)
    stranger = FastSigner(SigningKey(b"\x09" * 32))
    vote = stranger.sign_vote(Vote(stranger.did, 1, target.hash, 0, chain.genesis_hash))
    node.receive_vote(vote)
    forged = replace(signer(1).sign_vote(Vote(signer(1).did, 1, target.hash, 0, chain.genesis_hash)), sig=bytes(64))
    node.receive_vote(forged)
    assert node.tracker.vote_count() == 0
