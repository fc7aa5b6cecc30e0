"""Replay or sweep seeds: ``python -m tests.simulation --seed N`` or ``--seeds A:B``."""

from __future__ import annotations

import argparse
import sys
import time

from .run import run_seed
from .summary import Summary


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.simulation")
    parser.add_argument("--seed", type=int, help="replay one seed and print what it did")
    parser.add_argument("--seeds", default="0:200", help="a range START:END of seeds to run")
    args = parser.parse_args()
    seeds = [args.seed] if args.seed is not None else range(*map(int, args.seeds.split(":")))
    summary = Summary()
    started = time.perf_counter()
    for seed in seeds:
        result = run_seed(seed)
        summary.add(result)
        if args.seed is not None:
            print(result.scenario)
        for violation in result.violations:
            print(f"seed {seed}: {violation}")
    print(summary.line(time.perf_counter() - started))
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
