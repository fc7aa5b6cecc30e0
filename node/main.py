"""``audiera-node``: the daemon's command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from storage.errors import StorageError

from .config import Config, ConfigError, dev_config, load_config, with_overrides
from .daemon import run_node


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audiera-node", description="Run an Audiera node.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the node until SIGINT or SIGTERM")
    run.add_argument("--config", type=Path, help="TOML config file (default: a single-node dev network)")
    run.add_argument("--data-dir", type=Path, help="data directory (overrides the config)")
    run.add_argument("--rpc-port", type=int, help="RPC port on the configured host (overrides the config; 0 picks a free one)")
    run.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="log verbosity")
    run.add_argument("--ready-file", type=Path, help="write the RPC URL to this file once serving (for scripts)")
    return parser


def resolve_config(args: argparse.Namespace) -> Config:
    config = load_config(args.config) if args.config else dev_config()
    if args.rpc_port is not None and not 0 <= args.rpc_port <= 65535:
        raise ConfigError(f"--rpc-port {args.rpc_port} is not a port number")
    return with_overrides(config, data_dir=args.data_dir, rpc_port=args.rpc_port)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = resolve_config(args)
        logging.basicConfig(
            level=(args.log_level or config.log_level).upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        asyncio.run(run_node(config, ready_file=args.ready_file))
    except (ConfigError, StorageError) as exc:
        print(f"audiera-node: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
