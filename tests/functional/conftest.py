from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from node.files.network_files import scaffold_network

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


@pytest.fixture
def start_network(tmp_path: Path, nodes: list[NodeProcess]) -> Callable[..., list[NodeProcess]]:
    """Scaffold a local network (the first ``authorities`` nodes sign) and start ``running`` of its nodes."""

    def start(
        count: int = 3,
        *,
        authorities: int = 1,
        block_period_ms: int = 200,
        replicate: str = "authorities",
        running: int | None = None,
        allocations: dict[str, int] | None = None,
    ) -> list[NodeProcess]:
        _, scaffolded = scaffold_network(
            tmp_path / "net",
            nodes=count,
            authorities=authorities,
            block_period_ms=block_period_ms,
            replicate=replicate,
            allocations=allocations,
        )
        network = [NodeProcess(f"node{s.index}", tmp_path, config=s.config_path) for s in scaffolded]
        nodes.extend(network)
        for node in network[: count if running is None else running]:
            node.start()
        return network

    return start
