"""What a batch of runs did: seeds, faults injected, the worst time to finality after heal."""

from __future__ import annotations

from dataclasses import dataclass, field

from .run import RunResult


@dataclass
class Summary:
    seeds: int = 0
    failed: list[int] = field(default_factory=list)
    partitions: int = 0
    crashes: int = 0
    byzantine_nodes: int = 0
    byzantine_acts: int = 0
    messages: int = 0
    dropped: int = 0
    blocks: int = 0
    worst_ms: int = 0
    worst_seed: int | None = None
    seconds: float = 0.0

    def add(self, result: RunResult) -> None:
        scenario = result.scenario
        self.seeds += 1
        if result.violations:
            self.failed.append(scenario.seed)
        self.partitions += len(scenario.partitions)
        self.crashes += len(scenario.crashes)
        self.byzantine_nodes += len(scenario.byzantine)
        self.byzantine_acts += result.byzantine_acts
        self.messages += result.messages
        self.dropped += result.dropped
        self.blocks += result.blocks
        worst = result.worst_final_after_heal_ms
        if worst is not None and worst >= self.worst_ms:
            self.worst_ms, self.worst_seed = worst, scenario.seed

    def line(self, seconds: float) -> str:
        return (
            f"simulation: {self.seeds} seeds in {seconds:.1f} s, {len(self.failed)} failed; faults: "
            f"{self.partitions} partitions, {self.crashes} crashes, {self.byzantine_nodes} byzantine authorities "
            f"({self.byzantine_acts} acts seen), {self.dropped} of {self.messages} messages lost; "
            f"{self.blocks} blocks; worst time to a new final block after heal "
            f"{self.worst_ms / 1000:.1f} s (seed {self.worst_seed})"
        )
