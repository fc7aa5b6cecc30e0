"""Joining a running network: fetch its genesis from a node, check it, and write a follower's files.

A join address is a node's RPC URL (``http://127.0.0.1:8681``), which gives the genesis
and that node's peer addresses, or a peer address (``/ip4/…/tcp/…/p2p/<id>``), which
becomes a bootstrap peer and, when no RPC URL is given, is asked for the genesis over
libp2p (by the daemon: this module writes files and stays out of networking).
``--genesis-hash`` pins what is expected, so a node that lies about the network is
caught before anything is written. The files written are a genesis
and a config in the follower's directory: later starts need only the config.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from protocol.errors import ProtocolError
from protocol.genesis import Genesis, parse_genesis

from node.client import NodeClient, RpcError
from node.config import ConfigError
from .genesis_file import write_genesis
from .network_files import free_ports, render_config

JOIN_TIMEOUT_S = 10
MAX_JOIN_ADDRESSES = 16


@dataclass(frozen=True)
class JoinedNetwork:
    genesis: Genesis
    bootstrap: tuple[str, ...]
    """Peer addresses to dial first: those given, and those the RPC nodes listen on."""


def is_rpc_url(address: str) -> bool:
    return address.startswith(("http://", "https://"))


GenesisByPeer = Callable[[str], Genesis]
"""Asks a peer address for its genesis over libp2p (raises ConfigError); given by the daemon."""


def discover_network(addresses: list[str], expected_hash: str | None, ask_peer: GenesisByPeer | None = None) -> JoinedNetwork:
    """Ask the nodes at ``addresses`` for the genesis (they must agree); RPC nodes also give their peer addresses.

    Peer addresses are asked only through ``ask_peer``, and only when no RPC URL is given.
    """
    if not addresses:
        raise ConfigError("--join needs at least one address: a node's RPC URL or peer address")
    if len(addresses) > MAX_JOIN_ADDRESSES:
        raise ConfigError(f"--join takes at most {MAX_JOIN_ADDRESSES} addresses")
    urls = [address for address in addresses if is_rpc_url(address)]
    bootstrap = [address for address in addresses if not is_rpc_url(address)]
    for address in bootstrap:
        if not address.startswith(("/ip4/", "/ip6/", "/dns")) or "/p2p/" not in address:
            raise ConfigError(f"--join {address!r} is neither an RPC URL (http://HOST:PORT) nor a peer address (/ip4/…/tcp/…/p2p/<id>)")
    if not urls and ask_peer is None:
        raise ConfigError("joining needs a node's RPC URL (http://HOST:PORT) to fetch the genesis from")
    genesis: Genesis | None = None
    for url in urls or bootstrap[:1]:
        if is_rpc_url(url):
            found, listens = _ask(url)
        else:
            assert ask_peer is not None
            found, listens = ask_peer(url), []
        if expected_hash is not None and found.hash.hex() != expected_hash.lower():
            raise ConfigError(f"{url} runs genesis {found.hash.hex()}, not the expected {expected_hash}")
        if genesis is not None and found.hash != genesis.hash:
            raise ConfigError(f"the --join nodes disagree on the network: {url} runs genesis {found.hash.hex()}, not {genesis.hash.hex()}")
        genesis = found
        bootstrap += listens
    assert genesis is not None
    return JoinedNetwork(genesis, tuple(dict.fromkeys(bootstrap)))


def _ask(url: str) -> tuple[Genesis, list[str]]:
    try:
        client = NodeClient(url, timeout=JOIN_TIMEOUT_S)
        document = client.get("/v1/genesis")
        peers = client.get("/v1/peers")
    except ValueError:
        raise ConfigError(f"--join {url!r} is not a URL like http://127.0.0.1:8681") from None
    except RpcError as exc:
        raise ConfigError(f"cannot ask {url} for its network: {exc.message}") from None
    if not isinstance(document, dict) or not isinstance(peers, dict):
        raise ConfigError(f"{url} did not answer as an Audiera node")
    claimed = document.pop("hash", None)
    try:
        genesis = parse_genesis(document)
    except ProtocolError as exc:
        raise ConfigError(f"{url} sent a genesis that is not valid: {exc.message}") from None
    if claimed != genesis.hash.hex():
        raise ConfigError(f"{url} sent a genesis whose hash is not the one it claims ({claimed})")
    listens = [address for address in peers.get("addresses", []) if isinstance(address, str) and "/p2p/" in address]
    return genesis, listens[:4]


def write_follower(
    config_path: Path,
    data_dir: Path,
    joined: JoinedNetwork,
    *,
    rpc_port: int,
) -> None:
    """Write the genesis beside ``config_path`` and a follower's config that bootstraps to ``joined``."""
    config_path.parent.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    genesis_path = config_path.parent / "genesis.toml"
    write_genesis(genesis_path, joined.genesis)
    [p2p_port] = free_ports(1)
    config_path.write_text(
        render_config(
            is_authority=False,
            rpc_port=rpc_port,
            p2p_port=p2p_port,
            bootstrap=list(joined.bootstrap),
            genesis=genesis_path.name,
            data_dir=_relative(data_dir, config_path.parent),
        )
    )


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve())) or "."
    except ValueError:
        return str(path.resolve())
