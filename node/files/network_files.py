"""Writing a local network to disk: keys, one genesis, and a config per node.

Used by tests and by the testnet command, so that both start nodes exactly as a
user would, from files.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from protocol.genesis import Genesis
from protocol.keys import SigningKey

from node.chain.clock import Clock, system_clock
from .genesis_file import write_genesis
from .node_keys import write_key_file
from node.p2p.identity import load_or_create_node_key, peer_id_of


@dataclass(frozen=True)
class ScaffoldedNode:
    index: int
    directory: Path
    config_path: Path
    authority: str | None
    rpc_port: int
    p2p_port: int
    peer_address: str


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
    replicate: str = "authorities",
    clock: Clock = system_clock,
) -> tuple[Genesis, list[ScaffoldedNode]]:
    """Create ``nodes`` node directories under ``directory``; the first ``authorities`` sign blocks.

    Each node gets its own identity key, and a config that bootstraps to every other node.
    """
    authorities = nodes if authorities is None else authorities
    rpc_ports = rpc_ports or [0] * nodes
    p2p_ports = p2p_ports or free_ports(nodes)
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
    write_genesis(directory / "genesis.toml", genesis)
    peer_addresses = []
    for index in range(nodes):
        data_dir = directory / f"node{index}" / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        peer = peer_id_of(load_or_create_node_key(data_dir))
        peer_addresses.append(f"/ip4/127.0.0.1/tcp/{p2p_ports[index]}/p2p/{peer}")
    created = []
    for index in range(nodes):
        node_dir = directory / f"node{index}"
        key = keys[index] if index < authorities else None
        if key is not None:
            write_key_file(node_dir / "authority.key", key)
        config_path = node_dir / "config.toml"
        bootstrap = [address for other, address in enumerate(peer_addresses) if other != index]
        config_path.write_text(render_config(is_authority=key is not None, rpc_port=rpc_ports[index], p2p_port=p2p_ports[index], bootstrap=bootstrap, replicate=replicate))
        created.append(
            ScaffoldedNode(index, node_dir, config_path, key.did if key else None, rpc_ports[index], p2p_ports[index], peer_addresses[index])
        )
    return genesis, created


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 right now (held open together, so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def render_config(
    *,
    is_authority: bool,
    rpc_port: int,
    p2p_port: int,
    bootstrap: list[str],
    replicate: str = "authorities",
    genesis: str = "../genesis.toml",
    authority_line: str = 'authority_key = "authority.key"',
    data_dir: str = "data",
) -> str:
    lines = [
        "[node]",
        f'data_dir = "{data_dir}"',
        f'genesis = "{genesis}"',
        *([authority_line] if is_authority else []),
        "",
        "[rpc]",
        'host = "127.0.0.1"',
        f"port = {rpc_port}",
        "",
        "[p2p]",
        f'listen = "/ip4/127.0.0.1/tcp/{p2p_port}"',
        "bootstrap = [",
        *(f'  "{address}",' for address in bootstrap),
        "]",
        f'replicate = "{replicate}"',
        "",
    ]
    return "\n".join(lines)
