"""``audiera royalties``: a rights holder's statement for a period, or an asset's usage over time."""

from __future__ import annotations

import argparse
import re
from typing import Any

from node.client import segment

from .assets import asset_cid
from .context import Context
from .market import account_did
from .output import fields, table


def day(text: str) -> str:
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]+", text):
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2030-01-31 (or milliseconds since 1970)")


def register_commands(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    royalties = commands.add_parser(
        "royalties", parents=common, help="what a rights holder earned, per asset and purpose, in a period",
        description="A royalty statement (default: your key's, all time). With --asset: that asset's usage per day.",
    )
    royalties.add_argument("did", nargs="?", type=account_did, metavar="DID", help="the rights holder (default: your key's)")
    royalties.add_argument("--asset", type=asset_cid, metavar="CID", help="show this asset's usage per day instead")
    royalties.add_argument("--from", dest="first", type=day, metavar="DATE", help="first UTC day (default: the beginning)")
    royalties.add_argument("--to", dest="last", type=day, metavar="DATE", help="last UTC day, inclusive (default: today)")
    royalties.set_defaults(handler=show_royalties)


def show_royalties(ctx: Context) -> None:
    query = {"from": ctx.args.first, "to": ctx.args.last}
    if ctx.args.asset:
        ctx.out.emit(ctx.client.get(f"/v1/assets/{segment(ctx.args.asset)}/usage", query), render_usage)
        return
    did = ctx.args.did or ctx.key_did()
    ctx.out.emit(ctx.client.get(f"/v1/royalties/{segment(did)}", query), render_statement)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "es" if noun.endswith("s") else "s")


def _purposes(accesses: dict[str, int]) -> str:
    return ", ".join(f"{purpose} {count}" for purpose, count in accesses.items()) or "-"


def render_by_source(view: dict[str, Any], indent: str = "  ") -> str:
    """A table of credits per model and app (income of an account, or paid through an asset)."""
    rows = [(f"{item['kind']} {item['name']}", item["id"][:16] + "…", item["uses"], item["units"], item["revenue"]) for item in view["items"]]
    return table(["SOURCE", "ID", "RECORDS", "UNITS", "CREDITS"], rows, indent=indent)


def render_statement(d: dict[str, Any]) -> str:
    rows = [
        (item["asset"], item["title"], f"{item['share_bps'] / 100:g}%", _purposes(item["accesses"]), item["purchases"], item["revenue"])
        for item in d["items"]
    ]
    totals = d["totals"]
    return "\n".join(
        [
            f"royalty statement of {d['name'] or d['account']} ({d['account']})",
            f"period: {d['period']['from']} to {d['period']['to']} (UTC days of block time)",
            table(["ASSET", "TITLE", "SHARE", "ACCESSES BY PURPOSE", "PURCHASES", "CREDITS"], rows, indent="  "),
            "lineage income (use of models and apps, as developer or down their lineage):",
            render_by_source(d["lineage"]),
            fields(
                [
                    ("by source", f"purchases {d['by_source']['purchases']}, accesses {d['by_source']['accesses']}, "
                                  f"lineage {d['by_source']['lineage']}: {d['income']} credits"),
                    ("total", f"{totals['revenue']} credits from {_count(totals['total_accesses'], 'access')} "
                              f"({totals['paid_accesses']} paid) and {_count(totals['purchases'], 'purchase')}"),
                    ("all time", f"earned {d['earned_total']}, spent {d['spent_total']}, balance {d['balance']} credits"),
                ],
                indent="  ",
            ),
        ]
    )


def render_usage(d: dict[str, Any]) -> str:
    rows = [(day_row["day"], _purposes(day_row["accesses"]), day_row["purchases"], day_row["revenue"]) for day_row in d["days"]]
    totals = d["totals"]
    return "\n".join(
        [
            f"usage of {d['title']!r} ({d['asset']}), {d['period']['from']} to {d['period']['to']}",
            table(["DAY", "ACCESSES BY PURPOSE", "PURCHASES", "CREDITS PAID"], rows, indent="  "),
            f"  total: {_count(totals['total_accesses'], 'access')}, {_count(totals['purchases'], 'purchase')}, {totals['revenue']} credits",
            "paid through it by the use of models and apps:",
            render_by_source(d["paid_through"]),
        ]
    )
