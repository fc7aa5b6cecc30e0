"""Use of models and apps: their terms, a price quote, their use per day, and who it paid.

- ``GET /v1/models/{id}/terms``: the terms of a model's use and the block they apply from;
- ``GET /v1/usage/{id}/quote?purpose=P&count=N``: what recording N units of use of a model
  or app would cost now (what ``audiera usage record`` signs as its ``max_price``);
- ``GET /v1/usage/{id}``: a model's or app's recorded use per day and the credits charged;
- ``GET /v1/royalties/{did}/lineage``: an account's income from each model and app;
- ``GET /v1/assets/{cid}/paid-through``: the models and apps whose use paid an asset's holders.

Periods are whole UTC days of block time, as for royalty statements (``from``, ``to``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from protocol.errors import Rejected
from protocol.events import MAX_USE_COUNT
from protocol.lineage import get_app, get_model
from protocol.lineage_income import APP_SOURCE, MODEL_SOURCE, UseCounters, parse_source
from protocol.lineage_split import get_model_terms
from protocol.records import get_account, get_asset
from protocol.terms import PURPOSES
from protocol.usage import model_terms_since, use_price
from storage.state_scan import StateScan
from storage.usage_reads import BySource, lineage_statement, paid_through_asset, source_usage

from . import params
from .context import services_of
from .errors import ApiError, bad_request, not_found
from .periods import day_text, period_param, period_view


def model_terms_view(scan: StateScan, model_id: bytes) -> dict[str, Any]:
    since = model_terms_since(scan, model_id)
    return {**get_model_terms(scan, model_id).to_wire(), "since": since or None}


def _source(scan: StateScan, ident: bytes) -> tuple[bytes, dict[str, Any]]:
    """The source key of a model or app id, and its name and author."""
    model = get_model(scan, ident)
    if model is not None:
        return MODEL_SOURCE + ident, {"kind": "model", "id": ident.hex(), "name": model.name, "author": model.author}
    app = get_app(scan, ident)
    if app is not None:
        return APP_SOURCE + ident, {"kind": "app", "id": ident.hex(), "name": app.name, "author": app.author}
    raise not_found(f"model or app {ident.hex()}")


def _source_view(scan: StateScan, source: bytes) -> dict[str, Any]:
    kind, ident = parse_source(source)
    record = get_model(scan, ident) if kind == "model" else get_app(scan, ident)
    assert record is not None, "a usage row names a model or app the state does not hold"
    return {"kind": kind, "id": ident.hex(), "name": record.name, "author": record.author}


def by_source_view(scan: StateScan, found: BySource) -> dict[str, Any]:
    items = [{**_source_view(scan, source), **counters.to_wire()} for source, counters in found.rows.items()]
    items.sort(key=lambda item: (-item["revenue"], item["id"]))
    return {"items": items, "totals": found.totals.to_wire()}


def lineage_income_view(scan: StateScan, did: str, first: int, last: int) -> dict[str, Any]:
    return by_source_view(scan, lineage_statement(scan, did, first, last))


def paid_through_view(scan: StateScan, cid: str, first: int, last: int) -> dict[str, Any]:
    return by_source_view(scan, paid_through_asset(scan, cid, first, last))


def usage_totals(scan: StateScan, ident: bytes, first: int, last: int) -> tuple[dict[str, Any], list[tuple[int, UseCounters]]]:
    source, described = _source(scan, ident)
    days = source_usage(scan, source, first, last)
    totals = UseCounters()
    for _, counters in days:
        totals.add(counters)
    return {**described, "totals": totals.to_wire()}, days


async def get_terms(request: web.Request) -> web.Response:
    model_id = params.hex_id(request.match_info["id"], "a model id")
    with services_of(request).ledger.chain.scan_state() as scan:
        model = get_model(scan, model_id)
        if model is None:
            raise not_found(f"model {model_id.hex()}")
        view = model_terms_view(scan, model_id)
    return web.json_response({"model": model_id.hex(), "name": model.name, "author": model.author, "terms": view})


async def get_quote(request: web.Request) -> web.Response:
    ident = params.hex_id(request.match_info["id"], "a model or app id")
    purpose = request.query.get("purpose", "")
    if purpose not in PURPOSES:
        raise bad_request(f"purpose must be one of {', '.join(PURPOSES)}, not {purpose!r}")
    count = params.whole_number(request.query.get("count", ""), "count", low=1, high=MAX_USE_COUNT)
    with services_of(request).ledger.chain.scan_state() as scan:
        _, described = _source(scan, ident)
        app = get_app(scan, ident)
        models = app.models if app is not None else [ident]
        try:
            prices = [(model_id, use_price(scan, model_id, purpose)) for model_id in models]
        except Rejected as exc:
            raise ApiError(409, "use_denied", exc.message) from None
    return web.json_response(
        {
            **described,
            "purpose": purpose,
            "count": count,
            "models": [{"model": model_id.hex(), "price_per_unit": price} for model_id, price in prices],
            "price": count * sum(price for _, price in prices),
        }
    )


async def get_usage(request: web.Request) -> web.Response:
    ident = params.hex_id(request.match_info["id"], "a model or app id")
    first, last = period_param(request)
    with services_of(request).ledger.chain.scan_state() as scan:
        described, days = usage_totals(scan, ident, first, last)
    return web.json_response(
        {**described, "period": period_view(first, last), "days": [{"day": day_text(day), **c.to_wire()} for day, c in days]}
    )


async def get_lineage_income(request: web.Request) -> web.Response:
    did = params.did_param(request.match_info["did"])
    first, last = period_param(request)
    with services_of(request).ledger.chain.scan_state() as scan:
        view = lineage_income_view(scan, did, first, last)
        name = get_account(scan, did).name
    return web.json_response({"account": did, "name": name, "period": period_view(first, last), **view})


async def get_paid_through(request: web.Request) -> web.Response:
    cid = params.cid_param(request.match_info["cid"])
    first, last = period_param(request)
    with services_of(request).ledger.chain.scan_state() as scan:
        record = get_asset(scan, cid)
        if record is None:
            raise not_found(f"asset {cid}")
        view = paid_through_view(scan, cid, first, last)
    return web.json_response({"asset": cid, "title": record.registration["title"], "period": period_view(first, last), **view})


ROUTES = [
    ("GET", "/v1/models/{id}/terms", get_terms, "The terms of a model's use: per purpose, and the shares down its lineage"),
    ("GET", "/v1/usage/{id}/quote", get_quote, "What N units of a model's or app's use for a purpose cost now"),
    ("GET", "/v1/usage/{id}", get_usage, "A model's or app's recorded use per day, and the credits charged"),
    ("GET", "/v1/royalties/{did}/lineage", get_lineage_income, "An account's income from the use of each model and app"),
    ("GET", "/v1/assets/{cid}/paid-through", get_paid_through, "The models and apps whose use paid an asset's rights holders"),
]
"""Registered by the RPC app's route table."""
