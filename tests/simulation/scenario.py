"""A run's faults, drawn from its seed alone: the same seed is the same run."""

from __future__ import annotations

import random
from dataclasses import dataclass

PERIOD_MS = 1_000
GENESIS_TS = 1_800_000_000_000
"""Any fixed instant; slots count from it."""


@dataclass(frozen=True)
class Partition:
    start_ms: int
    end_ms: int
    sides: tuple[tuple[int, ...], ...]
    """Honest nodes only: byzantine ones reach every side."""


@dataclass(frozen=True)
class Crash:
    node: int
    down_ms: int
    up_ms: int
    """At or before the heal: every honest node runs again once the faults stop."""


@dataclass(frozen=True)
class Scenario:
    seed: int
    authorities: int
    byzantine: tuple[int, ...]
    silent_after: tuple[bool, ...]
    """Per byzantine node: whether it goes silent at the heal (else it turns honest)."""
    heal_ms: int
    """When the faults stop, from the genesis."""
    partitions: tuple[Partition, ...]
    crashes: tuple[Crash, ...]
    drop_rate: float
    straggler_rate: float
    straggler_ms: int
    max_delay_ms: int

    @property
    def honest(self) -> tuple[int, ...]:
        return tuple(index for index in range(self.authorities) if index not in self.byzantine)


def draw(seed: int) -> Scenario:
    rng = random.Random(seed)
    authorities = rng.choice((4, 4, 5, 7))
    liars = rng.randint(0, (authorities - 1) // 3)  # fewer than a third
    byzantine = tuple(sorted(rng.sample(range(authorities), liars)))
    honest = [index for index in range(authorities) if index not in byzantine]
    heal = rng.randint(6, 20) * PERIOD_MS
    partitions = []
    at = rng.randint(0, 3) * PERIOD_MS
    while at < heal:
        end = min(heal, at + rng.randint(1, 6) * PERIOD_MS + rng.randint(0, PERIOD_MS))
        shuffled = honest[:]
        rng.shuffle(shuffled)
        cut = rng.randint(1, len(shuffled) - 1)
        sides = (tuple(sorted(shuffled[:cut])), tuple(sorted(shuffled[cut:])))
        partitions.append(Partition(at, end, sides))
        at = end + rng.randint(0, 4) * PERIOD_MS
    crashes = []
    for node in honest:
        if rng.random() < 0.3:
            down = rng.randint(0, heal - 1)
            crashes.append(Crash(node, down, rng.randint(down + 1, heal)))
    return Scenario(
        seed=seed,
        authorities=authorities,
        byzantine=byzantine,
        silent_after=tuple(rng.random() < 0.5 for _ in byzantine),
        heal_ms=heal,
        partitions=tuple(partitions),
        crashes=tuple(crashes),
        drop_rate=rng.choice((0.0, 0.05, 0.2, 0.4)),
        straggler_rate=rng.choice((0.0, 0.05, 0.2)),
        straggler_ms=rng.randint(0, 3 * PERIOD_MS),
        max_delay_ms=rng.choice((50, 150, 300)),
    )
