"""``audiera search``: the catalog by words, type, genre, tag, creator, duration, ISRC/ISWC and terms."""

from __future__ import annotations

import argparse
from typing import Any

from protocol.events import ASSET_TYPES
from protocol.terms import PURPOSES

from .context import Context
from .events_view import short_did
from .market import account_did
from .output import table


def seconds(text: str) -> int:
    """Seconds (decimals allowed) as whole milliseconds."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration in seconds")
    return int(value * 1000)


def register_commands(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    search = commands.add_parser(
        "search", parents=common, help="search the catalog",
        description="Every word must appear in the title, tags, genre or description; every filter must hold.",
    )
    search.add_argument("words", nargs="*", metavar="WORD")
    search.add_argument("--type", dest="asset_type", choices=ASSET_TYPES)
    search.add_argument("--genre")
    search.add_argument("--tag")
    search.add_argument("--creator", type=account_did, metavar="DID", help="a rights holder")
    search.add_argument("--isrc")
    search.add_argument("--iswc")
    search.add_argument("--allows", choices=PURPOSES, metavar="PURPOSE", help="the terms in force allow this purpose")
    search.add_argument("--max-price", type=int, metavar="CREDITS", help="with --allows: at most this price (0: free only)")
    search.add_argument("--min-duration", type=seconds, metavar="SECONDS")
    search.add_argument("--max-duration", type=seconds, metavar="SECONDS")
    search.add_argument("--sort", choices=("newest", "title"), default="newest")
    search.add_argument("--limit", type=int, default=20, help="hits per page (default 20)")
    search.add_argument("--after", metavar="CURSOR", help="the next page (as printed after the hits)")
    search.set_defaults(handler=run_search)


def run_search(ctx: Context) -> None:
    args = ctx.args
    query = {
        "q": " ".join(args.words) or None,
        "type": args.asset_type,
        "genre": args.genre,
        "tag": args.tag,
        "creator": args.creator,
        "isrc": args.isrc,
        "iswc": args.iswc,
        "purpose": args.allows,
        "max_price": args.max_price,
        "min_duration_ms": args.min_duration,
        "max_duration_ms": args.max_duration,
        "sort": args.sort,
        "limit": args.limit,
        "after": args.after,
    }
    document = ctx.client.get("/v1/catalog", query)
    ctx.out.emit(document, lambda d: render_hits(d, args.allows))


def _terms(terms: dict[str, Any], purpose: str | None) -> str:
    shown = [purpose] if purpose else [p for p in PURPOSES if terms["purposes"][p]["mode"] != "denied"]
    parts = []
    for name in shown:
        rule = terms["purposes"][name]
        parts.append(f"{name} {rule['mode']}" + (f" {rule['price']}" if rule["price"] else ""))
    return ", ".join(parts) or "all denied"


def render_hits(d: dict[str, Any], purpose: str | None) -> str:
    rows = []
    for hit in d["items"]:
        duration = f"{hit['duration_ms'] / 1000:.1f}s" if hit["duration_ms"] is not None else "-"
        holders = ", ".join(short_did(h["account"]) for h in hit["rights_holders"])
        rows.append((hit["id"], hit["title"], hit["asset_type"], hit["genre"] or "-", duration, holders, _terms(hit["terms"], purpose)))
    lines = [table(["ASSET", "TITLE", "TYPE", "GENRE", "LENGTH", "RIGHTS HOLDERS", "TERMS"], rows)]
    if d["next"]:
        note = "" if d["complete"] else " (the search stopped early to stay fast)"
        lines.append(f"… more{note}: add --after {d['next']}")
    return "\n".join(lines)
