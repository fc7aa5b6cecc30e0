"""Lineage: model → base models → training assets → people; asset → models → apps; creator → apps.

``GET /v1/lineage/{ref}`` answers for a model or app id (64 hex), an asset (CID) or an
account (did:key). ``GET /v1/models/{id}/proof?asset=CID`` proves that an asset is, or is
not, in a model's training manifest, with everything needed to check it offline
against the block header (see protocol/manifest_proofs.py and ``audiera model prove``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from protocol.events import ModelRegister, decode_event
from protocol.lineage import get_app, get_model
from protocol.manifest_proofs import prove_manifest
from protocol.records import get_account, get_asset
from storage.lineage_reads import apps_of, apps_using_works_of, manifest_page, model_chain, models_trained_on, people_of
from storage.state_scan import StateScan

from . import params
from .context import services_of
from .errors import bad_request, not_found
from .market_views import app_view, catalog_entry, model_view
from .chain_views import header_view, proof_view
from .usage_api import model_terms_view, paid_through_view, usage_totals

WALK_BUDGET = 10_000
"""Index reads a fan-out walk (asset → models → apps) may make before it answers incomplete."""
LIST_LIMIT = 100
ALL_DAYS = 2**32 - 2
"""The last UTC day a period can name: lineage shows use over all time."""


async def get_lineage(request: web.Request) -> web.Response:
    ref = request.match_info["ref"]
    with services_of(request).ledger.chain.scan_state() as scan:
        if ref.startswith("did:"):
            return web.json_response(_account_lineage(scan, params.did_param(ref)))
        if len(ref) == 64:
            ident = params.hex_id(ref, "a model or app id")
            if get_model(scan, ident) is not None:
                return web.json_response(_model_lineage(request, scan, ident))
            if get_app(scan, ident) is not None:
                return web.json_response(_app_lineage(request, scan, ident))
            raise not_found(f"model or app {ref}")
        return web.json_response(_asset_lineage(scan, params.cid_param(ref)))


def _people(scan: StateScan, model_ids: list[bytes]) -> list[dict[str, Any]]:
    people = []
    for did, count in sorted(people_of(scan, model_ids).items(), key=lambda item: (-item[1], item[0])):
        account = get_account(scan, did)
        people.append({"account": did, "name": account.name, "roles": account.roles, "assets": count})
    return people


def _asset_cursor(request: web.Request) -> tuple[bytes, str] | None:
    raw = request.query.get("after")
    if raw is None:
        return None
    model_hex, _, cid = raw.partition(":")
    return params.hex_id(model_hex, "the model part of after"), params.cid_param(cid)


def _assets(request: web.Request, scan: StateScan, model_ids: list[bytes]) -> dict[str, Any]:
    after = _asset_cursor(request)
    if after is not None and after[0] not in model_ids:
        raise bad_request("after names a model outside this lineage")
    items, last = manifest_page(scan, model_ids, after, params.limit_param(request))
    rows = []
    for item in items:
        record = get_asset(scan, item.asset)
        assert record is not None, "a manifest names an asset the state does not hold"
        rows.append(
            {
                "model": item.model.hex(),
                "asset": item.asset,
                "title": record.registration["title"],
                "asset_type": record.registration["asset_type"],
                "rights_holders": record.registration["rights_holders"],
                "license": item.license.hex() if item.license else None,
                "position": item.position,
            }
        )
    return {"items": rows, "next": f"{last[0].hex()}:{last[1]}" if last else None}


def _model_lineage(request: web.Request, scan: StateScan, model_id: bytes) -> dict[str, Any]:
    chain = model_chain(scan, model_id)
    ids = [ident for ident, _ in chain]
    return {
        "kind": "model",
        "model": model_view(*chain[0]),
        "base_models": [model_view(ident, record) for ident, record in chain[1:]],
        "people": _people(scan, ids),
        "assets": _assets(request, scan, ids),
        "apps": [app_view(ident, record) for ident, record in apps_of(scan, model_id, LIST_LIMIT)],
        "terms": model_terms_view(scan, model_id),
        "usage": usage_totals(scan, model_id, 0, ALL_DAYS)[0]["totals"],
    }


def _app_lineage(request: web.Request, scan: StateScan, app_id: bytes) -> dict[str, Any]:
    app = get_app(scan, app_id)
    assert app is not None
    models, ids = [], []
    for model_id in app.models:
        chain = model_chain(scan, model_id)
        for ident, record in chain:
            if ident not in ids:
                ids.append(ident)
                models.append({**model_view(ident, record), "used_by_app": ident == model_id})
    return {
        "kind": "app",
        "app": app_view(app_id, app),
        "models": models,
        "people": _people(scan, ids),
        "assets": _assets(request, scan, ids),
        "usage": usage_totals(scan, app_id, 0, ALL_DAYS)[0]["totals"],
    }


def _asset_lineage(scan: StateScan, cid: str) -> dict[str, Any]:
    record = get_asset(scan, cid)
    if record is None:
        raise not_found(f"asset {cid}")
    models, complete = models_trained_on(scan, cid, WALK_BUDGET)
    apps: dict[bytes, dict[str, Any]] = {}
    for model_id, _, _ in models:
        for app_id, app in apps_of(scan, model_id, LIST_LIMIT):
            apps.setdefault(app_id, {**app_view(app_id, app), "via_model": model_id.hex()})
    return {
        "kind": "asset",
        "asset": {**catalog_entry(record), "status": record.status},
        "models": [{**model_view(ident, model), "via_base": via.hex() if via else None} for ident, model, via in models],
        "apps": list(apps.values()),
        "paid_through": paid_through_view(scan, cid, 0, ALL_DAYS),
        "complete": complete,
    }


def _account_lineage(scan: StateScan, did: str) -> dict[str, Any]:
    apps, complete = apps_using_works_of(scan, did, WALK_BUDGET)
    return {
        "kind": "account",
        "account": did,
        "name": get_account(scan, did).name,
        "apps": [{**app_view(app_id, app), "via_model": model.hex(), "via_asset": cid} for app_id, app, model, cid in apps],
        "complete": complete,
    }


async def get_manifest_proof(request: web.Request) -> web.Response:
    services = services_of(request)
    model_id = params.hex_id(request.match_info["id"], "a model id")
    cid = params.cid_param(request.query.get("asset", ""))
    chain = services.ledger.chain
    stored = chain.get_event(model_id)
    if stored is None:
        raise not_found(f"model {model_id.hex()}")
    event = decode_event(stored.raw, verify=False)  # verified when its block was imported
    if not isinstance(event.body, ModelRegister):
        raise not_found(f"model {model_id.hex()} (that id is a {event.kind} event)")
    block = chain.get_block(stored.block_hash)
    assert block is not None
    present, leaves = prove_manifest(event.body.manifest, cid)
    return web.json_response(
        {
            "model": model_id.hex(),
            "asset": cid,
            "present": present,
            "manifest_root": event.body.manifest_root.hex(),
            "manifest_size": len(event.body.manifest),
            "leaves": [
                {"entry": {"asset": leaf.entry.asset, "license": leaf.entry.license.hex() if leaf.entry.license else None}, "proof": proof_view(leaf.proof)}
                for leaf in leaves
            ],
            "event": stored.raw.hex(),
            "event_proof": proof_view(block.proof_for(stored.index)),
            "block": {"height": stored.height, "hash": stored.block_hash.hex(), "final": services.ledger.is_final(stored.height)},
            "header": header_view(block.header, final=services.ledger.is_final(stored.height)),
        }
    )
