"""``audiera-node``: the daemon's command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from storage.database import open_stores
from storage.errors import StorageError

from .allocator import tune_allocator
from .config import DEFAULT_RPC_PORT, Config, ConfigError, default_home, dev_config, load_config, with_overrides
from .daemon import run_node
from node.files.genesis_file import load_genesis
from node.files.join_files import discover_network, write_follower
from node.p2p.genesis_exchange import GenesisFetchError, fetch_genesis
from protocol.genesis import Genesis
from node.chain.clock import system_clock
from node.chain.reexecute import verify_stores


PRIVATE_UMASK = 0o077
JOINED_CONFIG = "config.toml"
"""The config ``--join`` writes into a follower's data directory."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audiera-node", description="Run an Audiera node.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the node until SIGINT or SIGTERM")
    run.add_argument("--config", type=Path, help="TOML config file (default: a single-node dev network)")
    run.add_argument("--data-dir", type=Path, help="data directory (overrides the config)")
    run.add_argument("--rpc-port", type=int, help="RPC port on the configured host (overrides the config; 0 picks a free one)")
    run.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="log verbosity")
    run.add_argument("--ready-file", type=Path, help="write the RPC URL to this file once serving (for scripts)")
    run.add_argument(
        "--join", action="append", default=[], metavar="ADDRESS",
        help="join a running network as a follower: a node's RPC URL (gives the genesis) or peer address; repeatable. "
        "Writes a config into the data directory (default ~/.audiera/NETWORK_ID): later starts need only --data-dir",
    )
    run.add_argument("--genesis-hash", metavar="HEX", help="with --join: the genesis hash the network must have")
    verify = commands.add_parser("verify", help="re-execute the stored chain and check every index (node stopped)")
    verify.add_argument("--config", type=Path, help="TOML config file (default: the dev network)")
    verify.add_argument("--data-dir", type=Path, help="data directory (overrides the config)")
    return parser


def resolve_config(args: argparse.Namespace) -> Config:
    join = getattr(args, "join", [])
    if join:
        if args.config:
            raise ConfigError("--join writes its own config: leave out --config")
        config_path = prepare_join(join, args.data_dir, getattr(args, "genesis_hash", None), getattr(args, "rpc_port", None))
        return with_overrides(load_config(config_path), rpc_port=getattr(args, "rpc_port", None))
    if args.config:
        config = load_config(args.config)
    elif args.data_dir is not None and (args.data_dir / JOINED_CONFIG).exists():
        config = load_config(args.data_dir / JOINED_CONFIG)
    else:
        config = dev_config()
    rpc_port = getattr(args, "rpc_port", None)
    if rpc_port is not None and not 0 <= rpc_port <= 65535:
        raise ConfigError(f"--rpc-port {rpc_port} is not a port number")
    return with_overrides(config, data_dir=args.data_dir, rpc_port=rpc_port)


def genesis_of_peer(address: str) -> Genesis:
    """The genesis a peer runs, asked over libp2p (for ``--join /ip4/…/p2p/…``)."""
    try:
        return asyncio.run(fetch_genesis(address))
    except GenesisFetchError as exc:
        raise ConfigError(exc.message) from None


def prepare_join(addresses: list[str], data_dir: Path | None, genesis_hash: str | None, rpc_port: int | None) -> Path:
    """The config of a follower of the network at ``addresses``, written on the first join."""
    joined = discover_network(addresses, genesis_hash, ask_peer=genesis_of_peer)
    directory = data_dir or default_home() / joined.genesis.network_id
    config_path = directory / JOINED_CONFIG
    if config_path.exists():
        held = load_config(config_path)
        if held.genesis_file is None or load_genesis(held.genesis_file).hash != joined.genesis.hash:
            raise ConfigError(
                f"{directory} already holds a node of another network; give another --data-dir, "
                f"or remove {directory} to join this one"
            )
        return config_path
    write_follower(config_path, directory, joined, rpc_port=DEFAULT_RPC_PORT if rpc_port is None else rpc_port)
    print(
        f"audiera-node: joined network {joined.genesis.network_id} (genesis {joined.genesis.hash.hex()[:16]}…) "
        f"in {directory}; later starts: audiera-node run --data-dir {directory}",
        file=sys.stderr,
    )
    return config_path


def verify(config: Config) -> int:
    if config.is_dev and not (config.data_dir / "genesis.toml").exists():
        raise ConfigError(f"{config.data_dir} holds no dev network to verify")
    genesis = load_genesis(config.genesis_file or config.data_dir / "genesis.toml")
    stores = open_stores(config.data_dir)
    try:
        report = verify_stores(stores, genesis, now_ms=system_clock())
    finally:
        stores.close()
    for problem in report.problems:
        print(f"problem: {problem}")
    state = "consistent" if report.ok else f"INCONSISTENT ({len(report.problems)} problems)"
    print(f"{state}: {report.blocks} blocks, {report.events} events re-executed up to height {report.head_height}")
    return 0 if report.ok else 3


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Everything the node writes (LevelDB's files among them, which it opens 0644) is the
    # operator's alone: other local users must not read keys, the chain or uploads.
    os.umask(PRIVATE_UMASK)
    try:
        config = resolve_config(args)
        if args.command == "verify":
            return verify(config)
        logging.basicConfig(
            level=(args.log_level or config.log_level).upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        tune_allocator()
        asyncio.run(run_node(config, ready_file=args.ready_file))
    except (ConfigError, StorageError) as exc:
        print(f"audiera-node: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
