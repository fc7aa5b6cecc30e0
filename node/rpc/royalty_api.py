"""Royalty statements per rights holder and period, and usage of an asset over time.

Periods are whole UTC days of block time: ``from`` and ``to`` are dates (YYYY-MM-DD) or
millisecond timestamps, both inclusive; the default is everything up to today.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from protocol.payments import get_credits
from protocol.records import get_account, get_asset
from protocol.royalties import Counters, day_of
from storage.royalty_reads import asset_usage, royalty_statement

from . import params
from .context import services_of
from .errors import bad_request, not_found
from .market_views import counters_view


def _period(request: web.Request) -> tuple[int, int]:
    services = services_of(request)
    today = day_of(max(services.clock(), services.ledger.head.ts))
    first, last = params.day_param(request, "from", 0), params.day_param(request, "to", today)
    if first > last:
        raise bad_request("from must not be after to")
    return max(first, 0), last


def day_text(day: int) -> str:
    return (params.EPOCH + timedelta(days=day)).isoformat()


def _period_view(first: int, last: int) -> dict[str, Any]:
    return {"from": day_text(first), "to": day_text(last)}


async def get_royalties(request: web.Request) -> web.Response:
    did = params.did_param(request.match_info["did"])
    first, last = _period(request)
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
    items.sort(key=lambda item: (-item["revenue"], -item["total_accesses"], item["asset"]))
    return web.json_response(
        {
            "account": did,
            "name": account.name,
            "period": _period_view(first, last),
            "items": items,
            "totals": counters_view(statement.totals),
            "balance": account.balance,
            "earned_total": earned,
            "spent_total": spent,
        }
    )


async def get_asset_usage(request: web.Request) -> web.Response:
    cid = params.cid_param(request.match_info["cid"])
    first, last = _period(request)
    with services_of(request).ledger.chain.scan_state() as scan:
        record = get_asset(scan, cid)
        if record is None:
            raise not_found(f"asset {cid}")
        days = asset_usage(scan, cid, first, last)
    totals = Counters()
    for _, counters in days:
        totals.add(counters)
    return web.json_response(
        {
            "asset": cid,
            "title": record.registration["title"],
            "period": _period_view(first, last),
            "days": [{"day": day_text(day), **counters_view(counters)} for day, counters in days],
            "totals": counters_view(totals),
        }
    )
