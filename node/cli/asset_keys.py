"""``audiera asset open`` and ``audiera asset reshare``: a rights holder's copy of an asset's key.

``asset open`` decrypts an asset with the key copy sealed to the rights holder in its
custody (no access, no release). ``asset reshare`` makes a new custody of that key for
the authorities in force, when the set has changed since the registration, and signs it
as an ``asset.reshare`` event (the chain checks the author is a rights holder).
The helpers for where a decrypted file goes are shared with ``audiera fetch``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from protocol.errors import ProtocolError
from protocol.events import AssetReshare
from protocol.key_custody import build_custody, open_holder_copy

from node.client import segment
from node.client.access import AccessFailed, custody_from_view, open_own_asset

from .context import Context
from .errors import CliError, UsageError
from .events_view import event_outcome
from .output import fields, format_bytes
from .progress import Progress
from .submit import add_wait_options, submit_and_follow


def register_asset_key_commands(actions: Any, common: list[argparse.ArgumentParser], asset_cid: Any) -> None:
    """``asset open`` and ``asset reshare`` under ``asset``; ``asset_cid`` parses the CID argument."""
    opener = actions.add_parser("open", parents=common, help="decrypt an asset you hold rights in, with your copy of its key")
    opener.add_argument("cid", type=asset_cid, metavar="CID")
    add_output_options(opener)
    opener.set_defaults(handler=open_command)

    reshare = actions.add_parser(
        "reshare", parents=common, help="share an asset's key anew among the authorities in force (you must be a rights holder)"
    )
    reshare.add_argument("cid", type=asset_cid, metavar="CID")
    add_wait_options(reshare)
    reshare.set_defaults(handler=reshare_command)


def add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", type=Path, metavar="FILE", help="where to write it (default: ./ASSET)")
    parser.add_argument("--force", action="store_true", help="overwrite FILE if it exists")


def output_target(ctx: Context) -> Path:
    target: Path = ctx.args.output or Path(ctx.args.cid)
    if target.exists() and not ctx.args.force:
        raise UsageError(f"{target} exists; pass --force to overwrite it")
    if not target.parent.is_dir():
        raise UsageError(f"{target.parent} is not a directory")
    return target


def asset_size(ctx: Context) -> int:
    return ctx.client.get(f"/v1/assets/{segment(ctx.args.cid)}", {"limit": 1})["asset"]["size"]


def open_command(ctx: Context) -> None:
    target = output_target(ctx)
    key = ctx.signing_key()
    stderr = ctx.out.stderr
    progress = Progress(asset_size(ctx), stderr, target.name, enabled=stderr.isatty())
    try:
        opened = open_own_asset(ctx.client, key, ctx.args.cid, target, progress=progress.advance)
    except AccessFailed as exc:
        raise CliError(exc.message) from None
    finally:
        progress.finish()
    document = {"asset": ctx.args.cid, "file": str(target), "bytes": opened.size, "cid_verified": True, "access": None}
    ctx.out.emit(document, render_opened)


def render_opened(d: dict[str, Any]) -> str:
    rows = [("asset", d["asset"]), ("saved", f"{d['file']} ({format_bytes(d['bytes'])}, root CID verified)")]
    if d.get("access"):
        rows.append(("access", d["access"]))
        rows.append(("key from", "shares " + ", ".join(map(str, d["shares_used"]))))
    if d.get("bad_shares"):
        rows.append(("WARNING", "bad shares left out: " + ", ".join(map(str, d["bad_shares"]))))
    return fields(rows)


def reshare_command(ctx: Context) -> None:
    args = ctx.args
    client = ctx.client
    key = ctx.signing_key()
    record = client.get(f"/v1/assets/{segment(args.cid)}", {"limit": 1})["asset"]
    custody = custody_from_view(record)
    if custody is None:
        raise CliError(f"asset {args.cid} has no key custody to reshare")
    holders = [share["account"] for share in record["rights_holders"]]
    if key.did not in holders:
        raise UsageError(f"only a rights holder of {args.cid} may reshare its key; your key is {key.did}")
    try:
        content_key = open_holder_copy(custody, key)
    except ProtocolError as exc:
        raise CliError(exc.message) from None
    authorities = client.get("/v1/authorities")["authorities"]
    body = AssetReshare(asset=args.cid, custody=build_custody(content_key, args.cid, authorities, holders))
    del content_key
    state = submit_and_follow(client, key, body, wait=not args.no_wait, timeout=args.timeout, out=ctx.out)
    document = {"asset": args.cid, "threshold": body.custody.threshold, "authorities": authorities, "event": state}
    ctx.out.emit(
        document,
        lambda d: fields(
            [("asset", d["asset"]), ("key", f"{d['threshold']} of {len(d['authorities'])} authorities"), *event_outcome(d["event"])]
        ),
    )
