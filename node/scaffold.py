"""Writing a local network to disk: keys, one genesis, and a config per node.

Used by tests and by the testnet command, so that both start nodes exactly as a
user would, from files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from protocol.genesis import Genesis
from protocol.keys import SigningKey

from .clock import Clock, system_clock
from .genesis_file import write_genesis
from .keyfiles import write_key_file


@dataclass(frozen=True)
class ScaffoldedNode:
    index: int
    directory: Path
    config_path: Path
    authority: str | None
    rpc_port: int
    p2p_port: int


def scaffold_network(
    directory: Path,
    *,
    nodes: int,
    authorities: int | None = None,
    block_period_ms: int = 1000,
    network_id: str = "audiera-local",
    allocations: dict[str, int] | None = None,
    rpc_ports: list[int] | None = None,
    p2p_ports: list[int] | None = None,
    clock: Clock = system_clock,
) -> tuple[Genesis, list[ScaffoldedNode]]:
    """Create ``nodes`` node directories under ``directory``; the first ``authorities`` sign blocks."""
    authorities = nodes if authorities is None else authorities
    rpc_ports = rpc_ports or [0] * nodes
    p2p_ports = p2p_ports or [0] * nodes
    directory.mkdir(parents=True, exist_ok=True)
    keys = [SigningKey.generate() for _ in range(authorities)]
    now = clock()
    genesis = Genesis(
        network_id=network_id,
        timestamp=now - now % block_period_ms,
        authorities=tuple(key.did for key in keys),
        block_period_ms=block_period_ms,
        allocations=tuple(sorted((allocations or {}).items())),
    )
    genesis_path = directory / "genesis.toml"
    write_genesis(genesis_path, genesis)
    created = []
    for index in range(nodes):
        node_dir = directory / f"node{index}"
        node_dir.mkdir(parents=True, exist_ok=True)
        key = keys[index] if index < authorities else None
        if key is not None:
            write_key_file(node_dir / "authority.key", key)
        config_path = node_dir / "config.toml"
        config_path.write_text(_render_config(key is not None, rpc_ports[index], p2p_ports[index]))
        created.append(
            ScaffoldedNode(index, node_dir, config_path, key.did if key else None, rpc_ports[index], p2p_ports[index])
        )
    return genesis, created


def _render_config(is_authority: bool, rpc_port: int, p2p_port: int) -> str:
    lines = [
        "[node]",
        'data_dir = "data"',
        'genesis = "../genesis.toml"',
        *(['authority_key = "authority.key"'] if is_authority else []),
        "",
        "[rpc]",
        'host = "127.0.0.1"',
        f"port = {rpc_port}",
        "",
        "[p2p]",
        f'listen = "/ip4/127.0.0.1/tcp/{p2p_port}"',
        "bootstrap = []",
        "",
    ]
    return "\n".join(lines)
