"""``audiera status``, ``block show``, ``event show`` (with a local proof check) and ``cid``."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from protocol.unixfs import root_cid_of_stream

from .context import Context
from .errors import CliError
from .events_view import block_events_table, describe
from .output import fields, format_time, yes_no
from .finality_check import check_finality, describe_check
from .proofs import verify_inclusion

_HEX_ID = re.compile(r"[0-9a-f]{64}")


def event_id(text: str) -> str:
    if not _HEX_ID.fullmatch(text.lower()):
        raise argparse.ArgumentTypeError(f"{text!r} is not an event id (64 hex characters)")
    return text.lower()


def block_ref(text: str) -> str:
    if text in ("head", "finalized") or (text.isascii() and text.isdigit()) or _HEX_ID.fullmatch(text.lower()):
        return text.lower()
    raise argparse.ArgumentTypeError(f"{text!r} is not a block height, a block hash, 'head' or 'finalized'")


def register_commands(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    status = commands.add_parser("status", parents=common, help="the node's network, head and finality")
    status.set_defaults(handler=show_status)

    block = commands.add_parser("block", parents=common, help="show blocks")
    block_actions = block.add_subparsers(dest="block_command", required=True, metavar="{show}")
    block_show = block_actions.add_parser("show", parents=common, help="a block's header and events")
    block_show.add_argument("ref", nargs="?", default="head", type=block_ref, metavar="REF",
                            help="height, hash, 'head' (default) or 'finalized'")
    block_show.set_defaults(handler=show_block)

    event = commands.add_parser("event", parents=common, help="show events")
    event_actions = event.add_subparsers(dest="event_command", required=True, metavar="{show}")
    event_show = event_actions.add_parser(
        "show", parents=common, help="an event's status and block, with its inclusion proof checked here"
    )
    event_show.add_argument("id", type=event_id, metavar="ID")
    event_show.set_defaults(handler=show_event)

    cid = commands.add_parser(
        "cid", parents=common, help="a file's root CID, computed here (no node needed)",
        description="Print FILE's root CID, as `ipfs add --only-hash --cid-version=1 --raw-leaves` would.",
    )
    cid.add_argument("file", type=Path, metavar="FILE")
    cid.set_defaults(handler=compute_cid)


# ------------------------------------------------------------ status


def show_status(ctx: Context) -> None:
    ctx.out.emit(ctx.client.get("/v1/status"), render_status)


def render_status(s: dict[str, Any]) -> str:
    mempool = s.get("mempool", {})
    return fields(
        [
            ("node", s.get("version")),
            ("network", s["network_id"]),
            ("genesis", s["genesis_hash"]),
            ("head", f"{s['head_height']} {s['head_hash']} ({format_time(s['head_time'])})"),
            ("finalized", f"{s['finalized_height']} {s['finalized_hash']}"),
            ("block period", f"{s['block_period_ms'] / 1000:g} s"),
            ("authorities", ", ".join(s["authorities"])),
            ("this node signs", s.get("authority") or "no"),
            ("peers", len(s.get("peers", []))),
            ("syncing", yes_no(s.get("syncing", False))),
            ("mempool", f"{mempool.get('pending', 0)} pending, {mempool.get('queued', 0)} queued"),
        ]
    )


# ------------------------------------------------------------ blocks


def show_block(ctx: Context) -> None:
    block = ctx.client.get(f"/v1/blocks/{ctx.args.ref}", {"events": "true"})
    block["finality_check"] = check_finality(ctx.client, block["height"], block["hash"])
    ctx.out.emit(block, render_block)


def render_block(b: dict[str, Any]) -> str:
    header = fields(
        [
            ("height", b["height"]),
            ("hash", b["hash"]),
            ("parent", b["parent"]),
            ("time", format_time(b["ts"])),
            ("proposer", b["proposer"]),
            ("difficulty", b["difficulty"]),
            ("events root", b["events_root"]),
            ("state root", b["state_root"]),
            ("final", yes_no(b["final"])),
            ("finality", describe_check(b["finality_check"], b["final"]) if "finality_check" in b else None),
        ]
    )
    return f"{header}\nevents ({b['event_count']}):\n{block_events_table(b['events'], indent='  ')}"


# ------------------------------------------------------------ events


def show_event(ctx: Context) -> None:
    state = ctx.client.get(f"/v1/events/{ctx.args.id}")
    if state["status"] in ("included", "final"):
        state["verified"] = verify_inclusion(ctx.client, ctx.args.id, state)
        state["finality_check"] = check_finality(ctx.client, state["block"]["height"], state["block"]["hash"])
    ctx.out.emit(state, render_event)


def render_event(state: dict[str, Any]) -> str:
    event = state.get("event")
    block = state.get("block")
    verified = state.get("verified")
    pairs: list[tuple[str, Any]] = [("event", state["id"]), ("status", state["status"])]
    if state["status"] == "rejected":
        pairs.append(("reason", state.get("reason")))
    if event:
        pairs += [
            ("kind", event["kind"]),
            ("author", event["author"]),
            ("nonce", event["nonce"]),
            ("signed at", format_time(event["ts"])),
            ("what", describe(event) or None),
        ]
    if block:
        pairs += [
            ("block", f"{block['height']} {block['hash']}"),
            ("position", f"{state['index'] + 1} of {state['proof']['size']}"),
        ]
    if verified:
        pairs.append(
            ("proof", f"valid (to events root {verified['events_root'][:16]}…, header signed by {verified['proposer']})")
        )
    if "finality_check" in state:
        pairs.append(("finality", describe_check(state["finality_check"], state["status"] == "final")))
    elif state["status"] in ("queued", "pending"):
        pairs.append(("proof", "none yet: the event is not in a block"))
    return fields(pairs)


# ------------------------------------------------------------ cid


def compute_cid(ctx: Context) -> None:
    path: Path = ctx.args.file
    try:
        with open(path, "rb") as file:
            cid, size = root_cid_of_stream(file)
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    # A person gets the bare CID, so that `$(audiera cid FILE)` works in a shell.
    ctx.out.emit({"cid": cid, "size": size, "file": str(path)}, lambda d: d["cid"])
