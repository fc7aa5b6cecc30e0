"""Assets with their provenance history, and accounts with their activity."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from protocol.events import Access, decode_event
from protocol.state import get_account, get_asset
from storage.chain import HistoryEntry

from . import params
from .context import services_of
from .errors import not_found
from .chain_views import account_view, asset_view, event_view


def _history_page(request: web.Request, entries: list[HistoryEntry], limit: int) -> dict[str, Any]:
    services = services_of(request)
    chain, ledger = services.ledger.chain, services.ledger
    items = []
    for entry in entries:
        stored = chain.get_event(entry.event_id)
        assert stored is not None, "a history index names an event the store does not hold"
        event = decode_event(stored.raw, verify=False)  # stored events were verified when their block was imported
        item = {"height": entry.height, "index": entry.index, "final": ledger.is_final(entry.height), "event": event_view(event)}
        if event.kind == Access.KIND:
            item["key_releases"] = services.releases.count_for(entry.event_id)
        items.append(item)
    last = entries[-1] if len(entries) == limit else None
    return {"items": items, "next": f"{last.height}:{last.index}" if last else None}


async def get_asset_with_history(request: web.Request) -> web.Response:
    services = services_of(request)
    cid = params.cid_param(request.match_info["cid"])
    limit, after = params.limit_param(request), params.cursor_param(request)
    record = get_asset(services.ledger.chain, cid)
    if record is None:
        raise not_found(f"asset {cid}")
    entries = services.ledger.chain.asset_history(cid, after=after, limit=limit)
    return web.json_response({"asset": asset_view(record), "history": _history_page(request, entries, limit)})


async def get_account_with_activity(request: web.Request) -> web.Response:
    services = services_of(request)
    did = params.did_param(request.match_info["did"])
    limit, after = params.limit_param(request), params.cursor_param(request)
    account = get_account(services.ledger.chain, did)
    entries = services.ledger.chain.account_history(did, after=after, limit=limit)
    return web.json_response(
        {
            "account": account_view(did, account, services.mempool.next_nonce(did)),
            "activity": _history_page(request, entries, limit),
        }
    )
