"""One simulated run: build the network from a scenario, play its faults, check the invariants."""

from __future__ import annotations

import random
from dataclasses import dataclass

from protocol.encoding import sha256
from protocol.keys import SigningKey

from .byzantine import ByzantineNode
from .invariants import LIVENESS_BOUND_PERIODS, Observer
from .network import LinkModel, Network
from .node import Chain, SimNode
from .scenario import GENESIS_TS, PERIOD_MS, Scenario, draw
from .scheduler import Scheduler
from .signatures import FastSigner, verdicts_kept

SETTLE_PERIODS = 4
"""Periods run past the liveness bound, for evidence to spread through the status exchange."""
HEALED_MAX_DELAY_MS = 100
"""Link delays once the faults stop. At 300 ms with one of five authorities silent, two
out-of-turn blocks race at nearly every height and votes split so no link reaches a
quorum for over 12 periods (seed 199 with 300 ms): the out-of-turn timing, not finality."""
QUIET_PERIODS = 4
"""A run may end this long after the heal, once it has shown what it must: longer than any
message sent before the heal can be in flight (delay plus straggling)."""

_signers: dict[int, FastSigner] = {}


def signer(index: int) -> FastSigner:
    if index not in _signers:
        _signers[index] = FastSigner(SigningKey(sha256(b"audiera simulation authority %d" % index)))
    return _signers[index]


@dataclass(frozen=True)
class RunResult:
    scenario: Scenario
    violations: tuple[str, ...]
    worst_final_after_heal_ms: int | None
    blocks: int
    byzantine_acts: int
    messages: int
    dropped: int
    final_height: int

    @property
    def replay(self) -> str:
        return f"python -m tests.simulation --seed {self.scenario.seed}"


def run_seed(seed: int) -> RunResult:
    return run(draw(seed))


def run(scenario: Scenario) -> RunResult:
    with verdicts_kept():
        return _run(scenario)


def _run(scenario: Scenario) -> RunResult:
    scheduler = Scheduler(GENESIS_TS)
    rng = random.Random(scenario.seed ^ 0x5EED)
    links = LinkModel(
        max_delay_ms=scenario.max_delay_ms,
        drop_rate=scenario.drop_rate,
        straggler_rate=scenario.straggler_rate,
        straggler_ms=scenario.straggler_ms,
    )
    network = Network(scheduler, random.Random(rng.getrandbits(64)), links)
    signers = [signer(index) for index in range(scenario.authorities)]
    chain = Chain(
        genesis_hash=sha256(b"audiera simulation genesis %d" % scenario.seed),
        genesis_ts=GENESIS_TS,
        period_ms=PERIOD_MS,
        authorities=tuple(s.did for s in signers),
    )
    heal_at = GENESIS_TS + scenario.heal_ms
    observer = Observer(heal_at=heal_at, genesis=chain.genesis)
    nodes: list[SimNode] = []
    for index in range(scenario.authorities):
        node_rng = random.Random(rng.getrandbits(64))
        if index in scenario.byzantine:
            silent = scenario.silent_after[scenario.byzantine.index(index)]
            node: SimNode = ByzantineNode(
                index, signers[index], chain, scheduler, network, node_rng, observer,
                misbehave_until=heal_at, silent_after=silent,
            )
        else:
            node = SimNode(index, signers[index], chain, scheduler, network, node_rng, observer)
        nodes.append(node)
    network.peers = nodes
    network.on_deliver.append(lambda sender, receiver, message: observer.delivered(nodes, sender, receiver, message))
    _schedule_faults(scenario, scheduler, network, nodes, heal_at)
    end = heal_at + (LIVENESS_BOUND_PERIODS + SETTLE_PERIODS) * PERIOD_MS

    def done_yet() -> None:
        if observer.shown_everything(nodes):
            scheduler.stop()
        else:
            scheduler.after(PERIOD_MS, done_yet)

    scheduler.at(heal_at + QUIET_PERIODS * PERIOD_MS, done_yet)
    scheduler.run_until(end)
    worst = observer.check_end(nodes, PERIOD_MS)
    return RunResult(
        scenario=scenario,
        violations=tuple(observer.violations),
        worst_final_after_heal_ms=worst,
        blocks=len(observer.blocks),
        byzantine_acts=len(observer.byzantine_acts),
        messages=network.sent,
        dropped=network.dropped,
        final_height=max(node.final.height for node in nodes if not node.byzantine),
    )


def _schedule_faults(scenario: Scenario, scheduler: Scheduler, network: Network, nodes: list[SimNode], heal_at: int) -> None:
    for partition in scenario.partitions:
        sides = partition.sides
        scheduler.at(GENESIS_TS + partition.start_ms, lambda sides=sides: network.partition(sides))
        scheduler.at(GENESIS_TS + partition.end_ms, network.heal)
    for crash in scenario.crashes:
        node = nodes[crash.node]
        scheduler.at(GENESIS_TS + crash.down_ms, node.crash)
        scheduler.at(GENESIS_TS + crash.up_ms, node.restart)

    def heal() -> None:
        network.heal()
        network.links = LinkModel(max_delay_ms=HEALED_MAX_DELAY_MS)
        for node in nodes:
            if isinstance(node, ByzantineNode):
                node.stop_misbehaving()
            else:
                node.restart()

    scheduler.at(heal_at, heal)
