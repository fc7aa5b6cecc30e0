"""``audiera fetch``: download an asset under a license, every download a signed ``access`` event.

The CLI signs an access event naming the asset, the purpose, the model or app it is for,
and the node that serves it, and sends it to ``POST /v1/access``. The node answers with
the content only if the rules admit the access (else one line: why not); a node that
lacks the file pulls it from its peers first. The bytes go to
a temporary file beside the target with a progress bar; the file's root CID must equal
the asset's before it takes the target's name. Then the access is followed until final.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from protocol.events import Access, sign_event
from protocol.terms import PURPOSES
from protocol.unixfs import root_cid_of_file

from node.client import NodeClient, segment

from .assets import asset_cid
from .chain import event_id
from .content import ensure_local
from .context import Context
from .errors import CliError, UsageError
from .events_view import event_outcome
from .output import fields, format_bytes
from .progress import Progress
from .submit import add_wait_options, next_nonce, wait_until_final

PIECE = 1024 * 1024


def register_commands(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    fetch = commands.add_parser(
        "fetch", parents=common, help="download an asset under a license (the download is a signed access event)",
        description="Sign an access event for ASSET and download its content; refused with the reason if no license allows it.",
    )
    fetch.add_argument("cid", type=asset_cid, metavar="ASSET")
    fetch.add_argument("--purpose", required=True, choices=PURPOSES, metavar="PURPOSE", help=", ".join(PURPOSES))
    fetch.add_argument("--model", type=event_id, metavar="MODEL", help="the registered model this use is for")
    fetch.add_argument("--app", type=event_id, metavar="APP", help="the registered app this use is for (needed for application)")
    fetch.add_argument("--max-price", type=int, metavar="CREDITS", help="pay at most this for the access (default: the price asked now)")
    fetch.add_argument("-o", "--output", type=Path, metavar="FILE", help="where to write it (default: ./ASSET)")
    fetch.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    add_wait_options(fetch)
    fetch.set_defaults(handler=fetch_asset)


def fetch_asset(ctx: Context) -> None:
    args = ctx.args
    target: Path = args.output or Path(args.cid)
    if target.exists() and not args.force:
        raise UsageError(f"{target} exists; pass --force to overwrite it")
    if not target.parent.is_dir():
        raise UsageError(f"{target.parent} is not a directory")
    key = ctx.signing_key()
    client = ctx.client
    node_id = client.get("/v1/status")["node_id"]
    size = client.get(f"/v1/assets/{segment(args.cid)}", {"limit": 1})["asset"]["size"]
    if args.max_price is None:
        answer = client.post_json("/v1/preflight", {"assets": [args.cid], "purpose": args.purpose, "account": key.did})["items"][0]
        max_price = answer["price"] if answer["allowed"] else 0
        allowed = answer["allowed"]
    else:
        max_price, allowed = args.max_price, True
    if allowed:
        # A refused access is refused with its reason by the node: pull only what may be served.
        ensure_local(client, args.cid, ctx.out)
    body = Access(
        asset=args.cid,
        purpose=args.purpose,
        model=bytes.fromhex(args.model) if args.model else None,
        app=bytes.fromhex(args.app) if args.app else None,
        node=node_id,
        bytes=size,
        max_price=max_price,
    )
    event = sign_event(key, body, nonce=next_nonce(client, key.did), ts=int(time.time() * 1000))
    partial = target.with_name(f".{target.name}.part")
    try:
        received = download(client, event.raw, partial, size, ctx.out.stderr, target.name)
        cid = root_cid_of_file(partial)
        if cid != args.cid:
            raise CliError(f"the node sent content with root CID {cid}, not {args.cid}; nothing was saved")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    access_id = event.id.hex()
    state = {"id": access_id, "status": "pending"} if args.no_wait else wait_until_final(client, access_id, args.timeout, ctx.out)
    document = {"asset": args.cid, "file": str(target), "bytes": received, "cid_verified": True, "access": access_id, "event": state}
    ctx.out.emit(document, render_fetch)


def render_fetch(d: dict[str, Any]) -> str:
    return fields(
        [
            ("asset", d["asset"]),
            ("saved", f"{d['file']} ({format_bytes(d['bytes'])}, root CID verified)"),
            ("access", d["access"]),
            *event_outcome(d["event"])[1:],
        ]
    )


def download(client: NodeClient, raw: bytes, path: Path, size: int, stderr, label: str) -> int:
    """POST the access event and stream the answer's body into ``path``; returns the bytes written."""
    progress = Progress(size, stderr, label, enabled=stderr.isatty())
    try:
        with client.open_download("/v1/access", raw) as answer, open(path, "wb") as file:
            for piece in answer.pieces(PIECE):
                file.write(piece)
                progress.advance(len(piece))
            received = answer.received
    finally:
        progress.finish()
    if received != size:
        raise CliError(f"the node sent {received} of {size} bytes; nothing was saved")
    return received
