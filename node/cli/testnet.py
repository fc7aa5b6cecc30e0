"""``audiera testnet up|status|down``: a local multi-node network on 127.0.0.1."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .context import Context
from .errors import CliError, UsageError
from .output import table, yes_no


def register_commands(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    net = commands.add_parser("testnet", parents=common, help="run a local multi-node testnet")
    actions = net.add_subparsers(dest="testnet_command", required=True, metavar="{up,status,down}")
    up = actions.add_parser("up", parents=common, help="create (first time) and start the testnet's nodes")
    up.add_argument("--nodes", type=int, default=3, help="how many nodes (default 3)")
    up.add_argument("--authorities", type=int, default=None, help="how many of them sign blocks (default: all)")
    up.add_argument("--block-period-ms", type=int, default=1000, help="block period (default 1000)")
    up.add_argument("--reset", action="store_true", help="delete the testnet's keys and chains and start over")
    up.set_defaults(handler=run_up)
    status = actions.add_parser("status", parents=common, help="each node's head, peers and sync state")
    status.set_defaults(handler=run_status)
    down = actions.add_parser("down", parents=common, help="stop the testnet's nodes (their data stays)")
    down.set_defaults(handler=run_down)
    for parser in (up, status, down):
        parser.add_argument("--dir", type=Path, default=None, help="testnet directory (default ~/.audiera/testnet)")


def _testnet():  # type: ignore[no-untyped-def]
    # Imported when used: it pulls in libp2p, a second's start-up every other command should not pay.
    from . import local_testnet as testnet

    return testnet


def _directory(ctx: Context) -> Path:
    return ctx.args.dir or _testnet().default_directory()


def run_up(ctx: Context) -> None:
    if not 1 <= ctx.args.nodes <= 32:
        raise UsageError("--nodes must be between 1 and 32")
    testnet = _testnet()
    try:
        members = testnet.up(
            _directory(ctx),
            nodes=ctx.args.nodes,
            authorities=ctx.args.authorities,
            block_period_ms=ctx.args.block_period_ms,
            reset=ctx.args.reset,
        )
    except testnet.TestnetError as exc:
        raise CliError(exc.message) from None
    document = {"dir": str(_directory(ctx)), "nodes": [member.__dict__ for member in members]}
    ctx.out.emit(document, _render_up)


def _render_up(document: dict[str, Any]) -> str:
    rows = [
        (node["index"], node["rpc"], "yes" if node["authority"] else "no", node["peer_address"]) for node in document["nodes"]
    ]
    return "\n".join(
        [
            f"testnet running in {document['dir']}",
            table(["NODE", "RPC", "AUTHORITY", "PEER ADDRESS"], rows),
            "talk to a node with: audiera --node URL status; stop them with: audiera testnet down",
        ]
    )


def run_status(ctx: Context) -> None:
    testnet = _testnet()
    try:
        report = testnet.status(_directory(ctx))
    except testnet.TestnetError as exc:
        raise CliError(exc.message) from None
    ctx.out.emit({"nodes": report}, _render_status)


def _render_status(document: dict[str, Any]) -> str:
    rows = []
    for node in document["nodes"]:
        if not node["running"]:
            rows.append((node["node"], node["rpc"], "stopped", "", "", "", ""))
        elif "error" in node:
            rows.append((node["node"], node["rpc"], node["error"], "", "", "", ""))
        else:
            rows.append(
                (
                    node["node"], node["rpc"], "running", f"{node['head_height']} {node['head_hash'][:12]}",
                    node["finalized_height"], node["peers"], yes_no(node["syncing"]),
                )
            )
    return table(["NODE", "RPC", "STATE", "HEAD", "FINAL", "PEERS", "SYNCING"], rows)


def run_down(ctx: Context) -> None:
    testnet = _testnet()
    try:
        stopped = testnet.down(_directory(ctx))
    except testnet.TestnetError as exc:
        raise CliError(exc.message) from None
    ctx.out.emit({"stopped": stopped}, lambda d: f"stopped {d['stopped']} node(s)")
