"""``audiera content pull|pin|stat|ls|rm``: content a node holds, fetched from its peers on request.

A follower does not replicate every asset; ``pull`` (or ``pin``, as kubo users say it)
has the node fetch a file from its peers, check every block against its CID and keep
it. ``audiera fetch`` pulls by itself when the node lacks the file.
"""

from __future__ import annotations

import argparse
from typing import Any

from node.client import NodeClient, RpcError, segment

from .assets import asset_cid
from .context import Context
from .output import Output, fields, format_bytes, format_media

PULL_TIMEOUT_S = 600.0
"""A pull answers once the whole file is here: a large one takes a while."""


def register_commands(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    content = commands.add_parser("content", parents=common, help="content this node holds: pull it from peers, list, show or remove it")
    actions = content.add_subparsers(dest="content_command", required=True, metavar="{pull,pin,stat,ls,rm}")
    for name, text in (("pull", "fetch content from the node's peers and keep it there"), ("pin", "the same as pull")):
        pull = actions.add_parser(name, parents=common, help=text)
        pull.add_argument("cid", type=asset_cid, metavar="CID")
        pull.set_defaults(handler=pull_content)
    stat = actions.add_parser("stat", parents=common, help="size and media facts of content the node holds")
    stat.add_argument("cid", type=asset_cid, metavar="CID")
    stat.set_defaults(handler=stat_content)
    listing = actions.add_parser("ls", parents=common, help="the sealed files this node holds (as ipfs pin ls)")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    listing.add_argument("--after", metavar="SEALED_CID", help="the page after this sealed CID")
    listing.set_defaults(handler=list_content)
    remove = actions.add_parser("rm", parents=common, help="delete the node's copy of a file (peers keep theirs; pull brings it back)")
    remove.add_argument("cid", type=asset_cid, metavar="CID")
    remove.set_defaults(handler=remove_content)


def content_info(client: NodeClient, cid: str) -> dict[str, Any] | None:
    """What the node holds of ``cid``, or None if it holds nothing."""
    try:
        return client.get(f"/v1/content/{segment(cid)}/info")
    except RpcError as exc:
        if exc.status == 404:
            return None
        raise


def ensure_local(client: NodeClient, cid: str, out: Output) -> tuple[dict[str, Any], bool]:
    """The content's facts, pulled from the node's peers first if it lacks it; and whether it was pulled."""
    info = content_info(client, cid)
    if info is not None:
        return info, False
    out.notice(f"the node lacks {cid}: pulling it from its peers")
    return client.request("POST", f"/v1/content/{segment(cid)}/fetch", timeout=PULL_TIMEOUT_S), True


def pull_content(ctx: Context) -> None:
    info, pulled = ensure_local(ctx.client, ctx.args.cid, ctx.out)
    ctx.out.emit({**info, "pulled": pulled}, _render)


def stat_content(ctx: Context) -> None:
    info = content_info(ctx.client, ctx.args.cid)
    if info is None:
        raise RpcError(404, "not_found", f"the node holds no content {ctx.args.cid}; pull it with: audiera content pull {ctx.args.cid}")
    ctx.out.emit(info, _render)


def list_content(ctx: Context) -> None:
    query: dict[str, Any] = {"limit": ctx.args.limit}
    if ctx.args.after:
        query["after"] = ctx.args.after
    page = ctx.client.get("/v1/pins", query)
    ctx.out.emit(page, _render_listing)


def remove_content(ctx: Context) -> None:
    cid = ctx.args.cid
    if content_info(ctx.client, cid) is None:
        raise RpcError(404, "not_found", f"the node holds no content {cid}")
    removed = ctx.client.request("DELETE", f"/v1/pins/{segment(cid)}")
    ctx.out.emit(removed, lambda d: f"removed {d['sealed_cid']} ({format_bytes(d['sealed_size'])}) from this node")


def _render_listing(page: dict[str, Any]) -> str:
    lines = [
        f"{item['sealed_cid']}  {format_bytes(item['sealed_size'])}  {item['cid'] or '(asset unknown here)'}"
        for item in page["content"]
    ]
    if page["next"]:
        lines.append(f"more: audiera content ls --after {page['next']}")
    return "\n".join(lines) if lines else "this node holds no content"


def _render(d: dict[str, Any]) -> str:
    return fields(
        [
            ("cid", d["cid"]),
            ("size", format_bytes(d["size"])),
            ("media", format_media(d.get("media"))),
            ("pulled", None if "pulled" not in d else ("from peers" if d["pulled"] else "already here")),
        ]
    )
