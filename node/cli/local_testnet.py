"""A local multi-node testnet: scaffold it, start its node processes, report on them, stop them.

State lives in one directory (default ``~/.audiera/testnet``): the genesis, a folder per
node (config, keys, data, log), and ``testnet.json`` with the running processes. ``up``
on an existing directory restarts the same network with its chain, followers added by
``join`` included; ``--reset`` starts over.
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
from node.config import ConfigError, default_home
from node.files.join_files import discover_network, write_follower
from node.files.network_files import free_ports, scaffold_network

STATE_FILE = "testnet.json"
DEFAULT_NODES = 3
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
    joined: bool = False
    """Added by ``testnet join``: a follower of the testnet, not one of the nodes it was made with."""


def default_directory() -> Path:
    return default_home() / "testnet"


def up(
    directory: Path,
    *,
    nodes: int | None,
    authorities: int | None,
    block_period_ms: int,
    reset: bool,
    allocations: dict[str, int] | None = None,
) -> list[TestnetNode]:
    """Start the testnet in ``directory`` as it is (joined nodes too), creating it first if needed; returns its nodes.

    ``nodes``, ``authorities``, ``block_period_ms`` and ``allocations`` shape a new testnet;
    an existing one keeps its own, and asking for another size or for funds needs ``reset``.
    """
    if reset and directory.exists():
        if running(directory):
            raise TestnetError(f"a testnet is running in {directory}; run `audiera testnet down` first")
        shutil.rmtree(directory)
    members = _load(directory) if (directory / STATE_FILE).exists() else None
    if members is None:
        members = _create(
            directory, nodes=nodes or DEFAULT_NODES, authorities=authorities, block_period_ms=block_period_ms,
            allocations=allocations or {},
        )
    else:
        founders = [member for member in members if not member.joined]
        if nodes is not None and nodes != len(founders):
            raise TestnetError(
                f"{directory} holds a testnet of {len(founders)} nodes; `audiera testnet up` restarts it as it is, "
                f"`audiera testnet up --reset --nodes {nodes}` makes a new one of {nodes}"
            )
        if allocations:
            raise TestnetError(
                f"{directory} holds a testnet whose genesis is fixed; --fund applies to a new one: "
                "`audiera testnet down` then `audiera testnet up --reset --fund …`"
            )
    if any(_alive(member) for member in members):
        raise TestnetError(f"a testnet is already running in {directory}; see `audiera testnet status`")
    _start(directory, members)
    return members


def join(directory: Path, via: str | None = None) -> TestnetNode:
    """Start a follower that joins the running testnet through ``via`` (default: its first running node)."""
    members = _require(directory)
    live = [member for member in members if _alive(member)]
    if not live:
        raise TestnetError(f"no node of the testnet in {directory} is running; start it with `audiera testnet up`")
    url = via or live[0].rpc
    try:
        joined = discover_network([url], None)
    except ConfigError as exc:
        raise TestnetError(exc.message) from None
    index = max(member.index for member in members) + 1
    node_dir = directory / f"node{index}"
    [rpc_port] = free_ports(1)
    write_follower(node_dir / "config.toml", node_dir / "data", joined, rpc_port=rpc_port)
    member = TestnetNode(
        index=index, config=str(node_dir / "config.toml"), rpc=f"http://127.0.0.1:{rpc_port}", peer_address="",
        authority=False, log=str(node_dir / "node.log"), joined=True,
    )
    members.append(member)
    _save(directory, members)
    _start(directory, [member], save_with=members)
    try:
        addresses = NodeClient(member.rpc, timeout=STATUS_TIMEOUT_S).get("/v1/peers")["addresses"]
        member.peer_address = addresses[0] if addresses else ""
    except (RpcError, KeyError, TypeError, IndexError):
        pass
    _save(directory, members)
    return member


def _start(directory: Path, members: list[TestnetNode], save_with: list[TestnetNode] | None = None) -> None:
    """Start ``members`` and wait until each serves; on failure, stop those started and raise."""
    everyone = save_with or members
    started: list[tuple[TestnetNode, NodeProcess]] = []
    try:
        for member in members:
            process = _launcher(member)
            process.start()
            member.pid = process.pid
            started.append((member, process))
            _save(directory, everyone)
        for member, process in started:
            process.wait_ready(START_TIMEOUT_S)
    except LaunchError as exc:
        for member, _ in started:
            _terminate(member)
        _save(directory, everyone)
        raise TestnetError(exc.message) from None


def _create(
    directory: Path, *, nodes: int, authorities: int | None, block_period_ms: int, allocations: dict[str, int]
) -> list[TestnetNode]:
    authorities = nodes if authorities is None else authorities
    if not 1 <= authorities <= nodes:
        raise TestnetError(f"--authorities must be between 1 and the number of nodes ({nodes})")
    rpc_ports = free_ports(nodes)
    _, scaffolded = scaffold_network(
        directory, nodes=nodes, authorities=authorities, block_period_ms=block_period_ms,
        network_id="audiera-testnet", rpc_ports=rpc_ports, allocations=allocations,
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
        entry: dict[str, Any] = {
            "node": member.index, "rpc": member.rpc, "authority": member.authority, "joined": member.joined, "running": _alive(member),
        }
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
