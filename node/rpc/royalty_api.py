"""Royalty statements per rights holder and period, and usage of an asset over time.

A statement shows income by source: purchases, accesses, and lineage income from each
model and app whose use paid the holder (node/rpc/usage_api.py). Periods are whole UTC
days of block time (node/rpc/periods.py).
"""

from __future__ import annotations

from aiohttp import web

from protocol.payments import get_credits
from protocol.records import get_account, get_asset
from protocol.royalties import Counters
from storage.royalty_reads import asset_usage, royalty_statement

from . import params
from .context import services_of
from .errors import not_found
from .market_views import counters_view
from .periods import day_text, period_param, period_view
from .usage_api import lineage_income_view, paid_through_view


async def get_royalties(request: web.Request) -> web.Response:
    did = params.did_param(request.match_info["did"])
    first, last = period_param(request)
    with services_of(request).ledger.chain.scan_state() as scan:
        statement = royalty_statement(scan, did, first, last)
        items = []
        for cid, counters in statement.rows.items():
            record = get_asset(scan, cid)
            assert record is not None, "a royalty row names an asset the state does not hold"
            share = next((s["share_bps"] for s in record.registration["rights_holders"] if s["account"] == did), 0)
            items.append({"asset": cid, "title": record.registration["title"], "share_bps": share, **counters_view(counters)})
        account = get_account(scan, did)
        earned, spent = get_credits(scan, did)
        lineage = lineage_income_view(scan, did, first, last)
    totals = statement.totals
    by_source = {
        "purchases": totals.purchase_revenue,
        "accesses": totals.revenue - totals.purchase_revenue,
        "lineage": lineage["totals"]["revenue"],
    }
    items.sort(key=lambda item: (-item["revenue"], -item["total_accesses"], item["asset"]))
    return web.json_response(
        {
            "account": did,
            "name": account.name,
            "period": period_view(first, last),
            "items": items,
            "totals": counters_view(statement.totals),
            "lineage": lineage,
            "by_source": by_source,
            "income": sum(by_source.values()),
            "balance": account.balance,
            "earned_total": earned,
            "spent_total": spent,
        }
    )


async def get_asset_usage(request: web.Request) -> web.Response:
    cid = params.cid_param(request.match_info["cid"])
    first, last = period_param(request)
    with services_of(request).ledger.chain.scan_state() as scan:
        record = get_asset(scan, cid)
        if record is None:
            raise not_found(f"asset {cid}")
        days = asset_usage(scan, cid, first, last)
        paid_through = paid_through_view(scan, cid, first, last)
    totals = Counters()
    for _, counters in days:
        totals.add(counters)
    return web.json_response(
        {
            "asset": cid,
            "title": record.registration["title"],
            "period": period_view(first, last),
            "days": [{"day": day_text(day), **counters_view(counters)} for day, counters in days],
            "totals": counters_view(totals),
            "paid_through": paid_through,
        }
    )
