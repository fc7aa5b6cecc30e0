"""``audiera testnet up|join|status|down``: a local multi-node network on 127.0.0.1."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .context import Context
from .errors import CliError, UsageError
from .key_names import account
from .output import table, yes_no


def register_commands(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    net = commands.add_parser("testnet", parents=common, help="run a local multi-node testnet")
    actions = net.add_subparsers(dest="testnet_command", required=True, metavar="{up,join,status,down}")
    up = actions.add_parser("up", parents=common, help="create (first time) and start the testnet's nodes")
    up.add_argument("--nodes", type=int, default=None, help="how many nodes a new testnet has (default 3; an existing one keeps its own)")
    up.add_argument("--authorities", type=int, default=None, help="how many of them sign blocks (default: all)")
    up.add_argument("--block-period-ms", type=int, default=1000, help="block period (default 1000)")
    up.add_argument("--reset", action="store_true", help="delete the testnet's keys and chains and start over")
    up.add_argument(
        "--fund", action="append", type=funding, default=[], metavar="KEY|DID=N",
        help="credits an account starts with in a new testnet's genesis (repeatable; a key name or a did)",
    )
    up.set_defaults(handler=run_up)
    join = actions.add_parser("join", parents=common, help="start one more node that joins the running testnet as a follower")
    join.add_argument("--via", metavar="URL", help="the RPC URL of the node to join through (default: the testnet's first running node)")
    join.set_defaults(handler=run_join)
    status = actions.add_parser("status", parents=common, help="each node's head, peers and sync state")
    status.set_defaults(handler=run_status)
    down = actions.add_parser("down", parents=common, help="stop the testnet's nodes (their data stays)")
    down.set_defaults(handler=run_down)
    for parser in (up, join, status, down):
        parser.add_argument("--dir", type=Path, default=None, help="testnet directory (default ~/.audiera/testnet)")


def _testnet():  # type: ignore[no-untyped-def]
    # Imported when used: it pulls in libp2p, a second's start-up every other command should not pay.
    from . import local_testnet as testnet

    return testnet


def _directory(ctx: Context) -> Path:
    return ctx.args.dir or _testnet().default_directory()


def funding(text: str) -> tuple[str, int]:
    """``KEY=N`` or ``DID=N``: an account and the credits it starts with."""
    holder, sep, amount = text.rpartition("=")
    if not sep or not (amount.isascii() and amount.isdigit()) or not 0 < int(amount) < 2**63:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=N or DID=N (an account and a positive number of credits)")
    return account(holder), int(amount)


def run_up(ctx: Context) -> None:
    if ctx.args.nodes is not None and not 1 <= ctx.args.nodes <= 32:
        raise UsageError("--nodes must be between 1 and 32")
    allocations: dict[str, int] = {}
    for did, amount in ctx.args.fund:
        allocations[did] = allocations.get(did, 0) + amount
    testnet = _testnet()
    try:
        members = testnet.up(
            _directory(ctx),
            nodes=ctx.args.nodes,
            authorities=ctx.args.authorities,
            block_period_ms=ctx.args.block_period_ms,
            reset=ctx.args.reset,
            allocations=allocations,
        )
    except testnet.TestnetError as exc:
        raise CliError(exc.message) from None
    document = {"dir": str(_directory(ctx)), "nodes": [member.__dict__ for member in members]}
    ctx.out.emit(document, _render_up)


def run_join(ctx: Context) -> None:
    testnet = _testnet()
    try:
        member = testnet.join(_directory(ctx), ctx.args.via)
    except testnet.TestnetError as exc:
        raise CliError(exc.message) from None
    ctx.out.emit(
        member.__dict__,
        lambda d: f"node {d['index']} joined as a follower: RPC {d['rpc']}, peer {d['peer_address']}\n"
        "it is part of `audiera testnet status` and `audiera testnet down`",
    )


def _render_up(document: dict[str, Any]) -> str:
    rows = [
        (node["index"], node["rpc"], _role(node), node["peer_address"]) for node in document["nodes"]
    ]
    return "\n".join(
        [
            f"testnet running in {document['dir']}",
            table(["NODE", "RPC", "ROLE", "PEER ADDRESS"], rows),
            "talk to a node with: audiera --node URL status; stop them with: audiera testnet down",
        ]
    )


def _role(node: dict[str, Any]) -> str:
    if node.get("authority"):
        return "authority"
    return "joined" if node.get("joined") else "follower"


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
