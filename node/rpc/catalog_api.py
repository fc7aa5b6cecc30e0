"""Catalog search: ``GET /v1/catalog`` with text and filters, sorted and paginated from indexes."""

from __future__ import annotations

from aiohttp import web

from protocol.catalog import NEWEST, TITLE
from protocol.events import ASSET_TYPES
from protocol.terms import PURPOSES
from storage.catalog_search import CatalogQuery, search_catalog

from . import params
from .context import services_of
from .errors import bad_request
from .market_views import catalog_entry

SORTS = {"newest": NEWEST, "title": TITLE}
SEARCH_PARAMS = (
    "q", "type", "genre", "tag", "creator", "isrc", "iswc", "purpose", "max_price",
    "min_duration_ms", "max_duration_ms", "sort", "limit", "after",
)  # fmt: skip


def _text(request: web.Request, name: str) -> str | None:
    value = request.query.get(name, "").strip(" ")
    return value or None


def parse_query(request: web.Request) -> CatalogQuery:
    unknown = sorted(set(request.query) - set(SEARCH_PARAMS))
    if unknown:
        raise bad_request(f"unknown search parameter(s) {', '.join(unknown)}; known: {', '.join(SEARCH_PARAMS)}")
    asset_type, purpose = _text(request, "type"), _text(request, "purpose")
    if asset_type is not None and asset_type not in ASSET_TYPES:
        raise bad_request(f"type must be one of {', '.join(ASSET_TYPES)}")
    if purpose is not None and purpose not in PURPOSES:
        raise bad_request(f"purpose must be one of {', '.join(PURPOSES)}")
    max_price = params.optional_whole(request, "max_price")
    if max_price is not None and purpose is None:
        raise bad_request("max_price needs purpose: the price of which use?")
    sort = request.query.get("sort", "newest")
    if sort not in SORTS:
        raise bad_request(f"sort must be one of {', '.join(SORTS)}")
    creator = _text(request, "creator")
    if creator is not None:
        params.did_param(creator)
    cursor = params.hex_cursor_param(request)
    return CatalogQuery(
        text=request.query.get("q", ""),
        asset_type=asset_type,
        genre=_text(request, "genre"),
        tag=_text(request, "tag"),
        creator=creator,
        isrc=(_text(request, "isrc") or "").upper() or None,
        iswc=(_text(request, "iswc") or "").upper() or None,
        purpose=purpose,
        max_price=max_price,
        min_duration_ms=params.optional_whole(request, "min_duration_ms"),
        max_duration_ms=params.optional_whole(request, "max_duration_ms"),
        order=SORTS[sort],
        after=cursor,
        limit=params.limit_param(request, default=20),
    )


async def search(request: web.Request) -> web.Response:
    services = services_of(request)
    query = parse_query(request)
    now = max(services.clock(), services.ledger.head.ts)
    with services.ledger.chain.scan_state() as scan:
        page = search_catalog(scan, query, now)
    return web.json_response(
        {
            "items": [catalog_entry(record) for record in page.assets],
            "next": page.next.hex() if page.next else None,
            "complete": page.complete,
        }
    )
