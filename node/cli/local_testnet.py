"""A local multi-node testnet: scaffold it, start its node processes, report on them, stop them.

State lives in one directory (default ``~/.audiera/testnet``): the genesis, a folder per
node (config, keys, data, log), and ``testnet.json`` with the running processes. ``up``
on an existing directory restarts the same network with its chain; ``--reset`` starts over.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from node.client import NodeClient, RpcError
from node.client.launcher import LaunchError, NodeProcess, stop_pid
from node.config import default_home
from node.files.network_files import free_ports, scaffold_network

STATE_FILE = "testnet.json"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 20
STATUS_TIMEOUT_S = 5


class TestnetError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class TestnetNode:
    index: int
    config: str
    rpc: str
    peer_address: str
    authority: bool
    log: str
    pid: int | None = None


def default_directory() -> Path:
    return default_home() / "testnet"


def up(directory: Path, *, nodes: int, authorities: int | None, block_period_ms: int, reset: bool) -> list[TestnetNode]:
    """Start the testnet in ``directory``, creating it first if needed; returns its nodes."""
    if reset and directory.exists():
        if running(directory):
            raise TestnetError(f"a testnet is running in {directory}; run `audiera testnet down` first")
        shutil.rmtree(directory)
    members = _load(directory) if (directory / STATE_FILE).exists() else None
    if members is None:
        members = _create(directory, nodes=nodes, authorities=authorities, block_period_ms=block_period_ms)
    elif len(members) != nodes:
        raise TestnetError(f"{directory} holds a testnet of {len(members)} nodes; pass --reset to make one of {nodes}")
    if any(_alive(member) for member in members):
        raise TestnetError(f"a testnet is already running in {directory}; see `audiera testnet status`")
    started: list[tuple[TestnetNode, NodeProcess]] = []
    try:
        for member in members:
            process = _launcher(member)
            process.start()
            member.pid = process.pid
            started.append((member, process))
            _save(directory, members)
        for member, process in started:
            process.wait_ready(START_TIMEOUT_S)
    except LaunchError as exc:
        for member, _ in started:
            _terminate(member)
        _save(directory, members)
        raise TestnetError(exc.message) from None
    return members


def _create(directory: Path, *, nodes: int, authorities: int | None, block_period_ms: int) -> list[TestnetNode]:
    authorities = nodes if authorities is None else authorities
    if not 1 <= authorities <= nodes:
        raise TestnetError(f"--authorities must be between 1 and the number of nodes ({nodes})")
    rpc_ports = free_ports(nodes)
    _, scaffolded = scaffold_network(
        directory, nodes=nodes, authorities=authorities, block_period_ms=block_period_ms,
        network_id="audiera-testnet", rpc_ports=rpc_ports,
    )
    members = [
        TestnetNode(
            index=node.index,
            config=str(node.config_path),
            rpc=f"http://127.0.0.1:{node.rpc_port}",
            peer_address=node.peer_address,
            authority=node.authority is not None,
            log=str(node.directory / "node.log"),
        )
        for node in scaffolded
    ]
    _save(directory, members)
    return members


def status(directory: Path) -> list[dict[str, Any]]:
    members = _require(directory)
    report = []
    for member in members:
        entry: dict[str, Any] = {"node": member.index, "rpc": member.rpc, "authority": member.authority, "running": _alive(member)}
        if entry["running"]:
            try:
                node = NodeClient(member.rpc, timeout=STATUS_TIMEOUT_S).get("/v1/status")
                entry.update(
                    head_height=node["head_height"],
                    head_hash=node["head_hash"],
                    finalized_height=node["finalized_height"],
                    peers=len(node["peers"]),
                    syncing=node["syncing"],
                )
            except RpcError as exc:
                entry["error"] = f"RPC not answering: {exc}"
        report.append(entry)
    return report


def down(directory: Path) -> int:
    """Stop every node; returns how many were running."""
    members = _require(directory)
    stopped = 0
    for member in members:
        if _alive(member):
            _terminate(member)
            stopped += 1
        member.pid = None
    _save(directory, members)
    return stopped


def running(directory: Path) -> bool:
    return (directory / STATE_FILE).exists() and any(_alive(member) for member in _load(directory))


def _launcher(member: TestnetNode) -> NodeProcess:
    # Detached: the nodes outlive this command and ignore its Ctrl-C.
    return NodeProcess(
        f"node {member.index}", Path(member.config).parent / "ready", Path(member.log), config=Path(member.config), detached=True
    )


def _alive(member: TestnetNode) -> bool:
    """Is ``member.pid`` still the node process we started (not a reused pid)?"""
    if member.pid is None:
        return False
    try:
        cmdline = Path(f"/proc/{member.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return member.config.encode() in cmdline and b"node.main" in cmdline


def _terminate(member: TestnetNode) -> None:
    if member.pid is not None:
        stop_pid(member.pid, STOP_TIMEOUT_S, still_ours=lambda: _alive(member))


def _require(directory: Path) -> list[TestnetNode]:
    if not (directory / STATE_FILE).exists():
        raise TestnetError(f"no testnet in {directory}; start one with `audiera testnet up --nodes N`")
    return _load(directory)


def _load(directory: Path) -> list[TestnetNode]:
    try:
        raw = json.loads((directory / STATE_FILE).read_text())
        return [TestnetNode(**entry) for entry in raw["nodes"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise TestnetError(f"{directory / STATE_FILE} is damaged ({exc}); pass --reset to start over") from None


def _save(directory: Path, members: list[TestnetNode]) -> None:
    path = directory / STATE_FILE
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps({"nodes": [asdict(member) for member in members]}, indent=2) + "\n")
    os.replace(temp, path)
