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
from .config import Config, ConfigError, dev_config, load_config, with_overrides
from .daemon import run_node
from node.files.genesis_file import load_genesis
from node.chain.clock import system_clock
from node.chain.reexecute import verify_stores


PRIVATE_UMASK = 0o077


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audiera-node", description="Run an Audiera node.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the node until SIGINT or SIGTERM")
    run.add_argument("--config", type=Path, help="TOML config file (default: a single-node dev network)")
    run.add_argument("--data-dir", type=Path, help="data directory (overrides the config)")
    run.add_argument("--rpc-port", type=int, help="RPC port on the configured host (overrides the config; 0 picks a free one)")
    run.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="log verbosity")
    run.add_argument("--ready-file", type=Path, help="write the RPC URL to this file once serving (for scripts)")
    verify = commands.add_parser("verify", help="re-execute the stored chain and check every index (node stopped)")
    verify.add_argument("--config", type=Path, help="TOML config file (default: the dev network)")
    verify.add_argument("--data-dir", type=Path, help="data directory (overrides the config)")
    return parser


def resolve_config(args: argparse.Namespace) -> Config:
    config = load_config(args.config) if args.config else dev_config()
    rpc_port = getattr(args, "rpc_port", None)
    if rpc_port is not None and not 0 <= rpc_port <= 65535:
        raise ConfigError(f"--rpc-port {rpc_port} is not a port number")
    return with_overrides(config, data_dir=args.data_dir, rpc_port=rpc_port)


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
