"""Licenses (one, an account's, an asset's) and the preflight of a dataset before buying."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from protocol.licenses import ASSET_INDEX, HELD_INDEX, get_license, judge_use
from protocol.records import get_account, get_asset
from protocol.terms import PURPOSES
from storage.state_scan import StateScan

from . import params
from .context import services_of
from .errors import bad_request, not_found
from .market_views import license_view

MAX_PREFLIGHT_ASSETS = 1000


def now_of(request: web.Request) -> int:
    """The block time the next block will have at the earliest: what a use now is judged at."""
    services = services_of(request)
    return max(services.clock(), services.ledger.head.ts)


def _license_page(request: web.Request, scan: StateScan, prefix: bytes, asset: str | None) -> dict[str, Any]:
    limit, after, now = params.limit_param(request), params.hex_cursor_param(request), now_of(request)
    items, last = [], None
    for suffix in scan.suffixes(prefix, after=after):
        last = suffix
        record = get_license(scan, suffix[8:])
        assert record is not None, "a license index names a license that does not exist"
        if asset is None or record.asset == asset:
            items.append(license_view(suffix[8:], record, now))
            if len(items) >= limit:
                break
    return {"items": items, "next": last.hex() if len(items) >= limit and last else None}


async def get_license_by_id(request: web.Request) -> web.Response:
    license_id = params.hex_id(request.match_info["id"], "a license id")
    with services_of(request).ledger.chain.scan_state() as scan:
        record = get_license(scan, license_id)
        if record is None:
            raise not_found(f"license {license_id.hex()}")
        return web.json_response(license_view(license_id, record, now_of(request)))


async def list_account_licenses(request: web.Request) -> web.Response:
    did = params.did_param(request.match_info["did"])
    asset = request.query.get("asset")
    if asset is not None:
        params.cid_param(asset)
    with services_of(request).ledger.chain.scan_state() as scan:
        page = _license_page(request, scan, HELD_INDEX + did.encode() + b"\x00", asset)
    return web.json_response({"account": did, "licenses": page})


async def list_asset_licenses(request: web.Request) -> web.Response:
    cid = params.cid_param(request.match_info["cid"])
    with services_of(request).ledger.chain.scan_state() as scan:
        if get_asset(scan, cid) is None:
            raise not_found(f"asset {cid}")
        page = _license_page(request, scan, ASSET_INDEX + cid.encode() + b"\x00", None)
    return web.json_response({"asset": cid, "licenses": page})


def _preflight_request(document: Any) -> tuple[list[str], str, str | None]:
    if not isinstance(document, dict):
        raise bad_request('send {"assets": [CID, …], "purpose": PURPOSE, "account": DID (optional)} as JSON')
    assets, purpose, account = document.get("assets"), document.get("purpose"), document.get("account")
    if not isinstance(assets, list) or not 1 <= len(assets) <= MAX_PREFLIGHT_ASSETS:
        raise bad_request(f"assets must be a list of 1 to {MAX_PREFLIGHT_ASSETS} asset ids")
    if purpose not in PURPOSES:
        raise bad_request(f"purpose must be one of {', '.join(PURPOSES)}")
    for cid in assets:
        if not isinstance(cid, str):
            raise bad_request("every asset must be a CID string")
        params.cid_param(cid)
    if account is not None:
        if not isinstance(account, str):
            raise bad_request("account must be a did:key")
        params.did_param(account)
    return list(dict.fromkeys(assets)), purpose, account


async def preflight(request: web.Request) -> web.Response:
    """Per asset: may ``account`` use it for ``purpose`` now, on what basis, at what price, crediting whom."""
    try:
        document = await request.json()
    except ValueError:
        raise bad_request("the preflight request must be JSON") from None
    assets, purpose, account = _preflight_request(document)
    now = now_of(request)
    answers = []
    with services_of(request).ledger.chain.scan_state() as scan:
        for cid in assets:
            answers.append(_judge(scan, cid, purpose, account, now))
    summary = {
        "assets": len(answers),
        "usable_now": sum(1 for a in answers if a["allowed"]),
        "to_buy": sum(1 for a in answers if a["status"] == "purchase"),
        "refused": sum(1 for a in answers if a["status"] not in ("allowed", "per_access", "purchase")),
        "purchase_total": sum(a["price"] for a in answers if a["status"] == "purchase"),
        "per_access_total": sum(a["price"] for a in answers if a["status"] == "per_access"),
        "attribution_required": sum(1 for a in answers if a.get("attribution", {}).get("required")),
    }
    return web.json_response({"purpose": purpose, "account": account, "at": now, "items": answers, "summary": summary})


def _judge(scan: StateScan, cid: str, purpose: str, account: str | None, now: int) -> dict[str, Any]:
    record = get_asset(scan, cid)
    if record is None:
        return {"asset": cid, "status": "unknown", "allowed": False, "price": 0, "reason": f"asset {cid} is not registered"}
    verdict = judge_use(scan, record, account or "", purpose, now)
    if verdict.allowed:
        status = "per_access" if verdict.basis == "per_access" else "allowed"
    else:
        status = verdict.basis
    terms = record.terms
    credit = [
        {"account": share["account"], "name": get_account(scan, share["account"]).name, "share_bps": share["share_bps"]}
        for share in record.registration["rights_holders"]
    ]
    return {
        "asset": cid,
        "title": record.registration["title"],
        "status": status,
        "allowed": verdict.allowed,
        "basis": verdict.basis if verdict.allowed else None,
        "license": verdict.license.hex() if verdict.license else None,
        "price": verdict.price,
        "reason": verdict.reason,
        "attribution": {"required": terms["attribution"], "credit": credit},
        "commercial": terms["commercial"],
        "derivatives": terms["derivatives"],
        "terms_expire": terms["expires"] or None,
    }
