"""Command-line options of the whole suite (pytest reads options only from conftests it loads first)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("simulation")
    group.addoption("--sim-seeds", type=int, default=None, help="seeds of the consensus simulation to run (default 2000)")
    group.addoption("--sim-first-seed", type=int, default=None, help="the first seed of the consensus simulation (default 0)")
