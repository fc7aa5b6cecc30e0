"""``--sim-seeds N`` (or AUDIERA_SIM_SEEDS=N) runs N seeds instead of the default, from ``--sim-first-seed``
(AUDIERA_SIM_FIRST_SEED); a summary line ends the session. The options are declared in tests/conftest.py."""

from __future__ import annotations

import os

import pytest

from .summary import Summary

DEFAULT_SEEDS = 2000
SESSION_SUMMARY = Summary()


def seed_range(config: pytest.Config) -> range:
    count = config.getoption("--sim-seeds", default=None)
    if count is None:
        count = int(os.environ.get("AUDIERA_SIM_SEEDS", DEFAULT_SEEDS))
    first = config.getoption("--sim-first-seed", default=None)
    if first is None:
        first = int(os.environ.get("AUDIERA_SIM_FIRST_SEED", 0))
    return range(first, first + count)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if SESSION_SUMMARY.seeds:
        terminalreporter.write_line(SESSION_SUMMARY.line(SESSION_SUMMARY.seconds))
