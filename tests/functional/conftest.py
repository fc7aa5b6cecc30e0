from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from node.scaffold import scaffold_network

from .framework import NodeProcess


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[NodeProcess]]:
    """Every node a test starts is registered here and stopped after it, whatever happened."""
    started: list[NodeProcess] = []
    yield started
    for node in started:
        node.kill()


@pytest.fixture
def start_dev_node(tmp_path: Path, nodes: list[NodeProcess]) -> Callable[..., NodeProcess]:
    def start(name: str = "node0") -> NodeProcess:
        node = NodeProcess(name, tmp_path, data_dir=tmp_path / name)
        nodes.append(node)
        return node.start()

    return start


@pytest.fixture
def start_local_node(tmp_path: Path, nodes: list[NodeProcess]) -> Callable[..., NodeProcess]:
    """One authority on a scaffolded network with a short block period, started from its config file."""

    def start(block_period_ms: int = 200, allocations: dict[str, int] | None = None) -> NodeProcess:
        _, (scaffolded,) = scaffold_network(
            tmp_path / "net", nodes=1, block_period_ms=block_period_ms, allocations=allocations
        )
        node = NodeProcess("node0", tmp_path, config=scaffolded.config_path)
        nodes.append(node)
        return node.start()

    return start
