"""JSON views of the market's records: licenses, models, apps, catalog entries, counters."""

from __future__ import annotations

from typing import Any

from protocol.licenses import License
from protocol.lineage import AppRecord, ModelRecord
from protocol.records import AssetRecord
from protocol.royalties import Counters


def license_view(license_id: bytes, record: License, now: int) -> dict[str, Any]:
    if record.revoked_at:
        status = "revoked"
    elif record.is_expired(now):
        status = "expired"
    elif record.is_used_up():
        status = "used_up"
    else:
        status = "in_force"
    return {
        "id": license_id.hex(),
        "asset": record.asset,
        "grantee": record.grantee,
        "purposes": record.purposes,
        "source": record.source,
        "issuer": record.issuer,
        "issued_at": record.issued_at,
        "expires": record.expires or None,
        "max_accesses": record.max_accesses or None,
        "used": record.used,
        "price": record.price,
        "revoked_at": record.revoked_at or None,
        "revoked_by": record.revoked_by or None,
        "status": status,
    }


def model_view(model_id: bytes, record: ModelRecord) -> dict[str, Any]:
    return {
        "id": model_id.hex(),
        "name": record.name,
        "version": record.version,
        "author": record.author,
        "base_model": record.base_model.hex() if record.base_model else None,
        "registered_at": record.registered_at,
        "manifest_root": record.manifest_root.hex(),
        "manifest_size": record.manifest_size,
    }


def app_view(app_id: bytes, record: AppRecord) -> dict[str, Any]:
    return {
        "id": app_id.hex(),
        "name": record.name,
        "version": record.version,
        "author": record.author,
        "models": [model.hex() for model in record.models],
        "registered_at": record.registered_at,
    }


def catalog_entry(record: AssetRecord) -> dict[str, Any]:
    """An asset as a search hit: enough to choose it, without its history."""
    registration = record.registration
    media = registration["media"]
    return {
        "id": record.cid,
        "title": registration["title"],
        "asset_type": registration["asset_type"],
        "genre": registration["genre"],
        "tags": registration["tags"],
        "duration_ms": media["duration_ms"] if media else None,
        "size": registration["size"],
        "isrc": registration["isrc"] or None,
        "iswc": registration["iswc"] or None,
        "rights_holders": registration["rights_holders"],
        "terms": record.terms,
        "registered_at": record.registered_at,
        "reupload_of": record.reupload_of,
    }


def counters_view(counters: Counters) -> dict[str, Any]:
    view = counters.to_wire()
    view["total_accesses"] = sum(counters.accesses.values())
    return view
