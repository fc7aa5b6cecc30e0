"""``audiera fetch``: an asset under a license, its key from the authorities, decrypted here.

``fetch`` signs an ``access`` event, waits until it is final, collects the key shares the
authorities release for it (sealed to the consumer's key), recovers the content key,
and streams and decrypts the sealed content with a progress bar; the file takes its
name only if its root CID is the asset's (node/client/access.py does the work, for
applications too).
"""

from __future__ import annotations

import argparse
from typing import Any

from protocol.terms import PURPOSES

from node.client.access import AccessFailed, fetch_asset

from .asset_keys import add_output_options, asset_size, output_target, render_opened
from .assets import asset_cid
from .chain import event_id
from .context import Context
from .errors import CliError
from .progress import Progress


def register_commands(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    fetch = commands.add_parser(
        "fetch", parents=common, help="get an asset under a license: a signed access, then the key from the authorities",
        description="Sign an access event for ASSET, wait until it is final, recover the content key from the "
        "authorities' releases, and decrypt the sealed content into FILE (kept only if its root CID is ASSET).",
    )
    fetch.add_argument("cid", type=asset_cid, metavar="ASSET")
    fetch.add_argument("--purpose", required=True, choices=PURPOSES, metavar="PURPOSE", help=", ".join(PURPOSES))
    fetch.add_argument("--model", type=event_id, metavar="MODEL", help="the registered model this use is for")
    fetch.add_argument("--app", type=event_id, metavar="APP", help="the registered app this use is for (needed for application)")
    fetch.add_argument("--max-price", type=int, metavar="CREDITS", help="pay at most this for the access (default: the price asked now)")
    add_output_options(fetch)
    fetch.add_argument("--timeout", type=float, default=60.0, metavar="S", help="how long to wait for finality and the releases (default 60)")
    fetch.set_defaults(handler=fetch_command)


def fetch_command(ctx: Context) -> None:
    args = ctx.args
    target = output_target(ctx)
    key = ctx.signing_key()
    stderr = ctx.out.stderr
    progress = Progress(asset_size(ctx), stderr, target.name, enabled=stderr.isatty())
    try:
        opened = fetch_asset(
            ctx.client, key, args.cid, args.purpose, target,
            model=bytes.fromhex(args.model) if args.model else None,
            app=bytes.fromhex(args.app) if args.app else None,
            max_price=args.max_price, timeout=args.timeout, progress=progress.advance, on_status=ctx.out.notice,
        )  # fmt: skip
    except AccessFailed as exc:
        raise CliError(exc.message) from None
    finally:
        progress.finish()
    document = {
        "asset": args.cid, "file": str(target), "bytes": opened.size, "cid_verified": True, "access": opened.access,
        "shares_used": list(opened.releases_used), "bad_shares": list(opened.bad_shares),
    }  # fmt: skip
    ctx.out.emit(document, render_opened)


