from __future__ import annotations

import pytest

from .consensus_helpers import GENESIS, PERIOD_MS, FakeClock, Forge, start_node


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every test gets its own AUDIERA_HOME and no password or node from the environment."""
    monkeypatch.setenv("AUDIERA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AUDIERA_PASSWORD", raising=False)
    monkeypatch.delenv("AUDIERA_NODE", raising=False)


# --- an in-process consensus network (see consensus_helpers.py) ----------------------------


@pytest.fixture
def clock() -> FakeClock:
    """Well past every block the tests forge, so none is in the future unless a test says so."""
    return FakeClock(GENESIS.timestamp + 1_000 * PERIOD_MS)


@pytest.fixture
def forge() -> Forge:
    return Forge()


@pytest.fixture
def start(tmp_path, clock):
    """start(name) opens another node on its own store; all are closed after the test."""
    nodes = []

    def start(name: str = "node"):
        nodes.append(start_node(tmp_path / name, clock))
        return nodes[-1]

    yield start
    for node in nodes:
        node.stores.close()


@pytest.fixture
def node(start):
    return start()
