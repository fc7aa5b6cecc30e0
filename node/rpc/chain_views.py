"""JSON views of protocol objects: bytes as lower-case hex, ids as hex, accounts as did:key."""

from __future__ import annotations

from typing import Any

from protocol.blocks import Block, Header
from protocol.events import Event
from protocol.merkle import MerkleProof
from protocol.state import Account, AssetRecord
from storage.chain import ChainTip


def hexify(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [hexify(item) for item in value]
    if isinstance(value, dict):
        return {key: hexify(item) for key, item in value.items()}
    return value


def event_view(event: Event) -> dict[str, Any]:
    return {
        "id": event.id.hex(),
        "kind": event.kind,
        "author": event.author,
        "nonce": event.nonce,
        "ts": event.ts,
        "body": hexify(event.body.to_wire()),
        "sig": event.sig.hex(),
    }


def header_view(header: Header, *, final: bool) -> dict[str, Any]:
    return {
        "v": header.v,
        "height": header.height,
        "hash": header.hash.hex(),
        "parent": header.parent.hex(),
        "ts": header.ts,
        "proposer": header.proposer,
        "events_root": header.events_root.hex(),
        "state_root": header.state_root.hex(),
        "difficulty": header.difficulty,
        "sig": header.sig.hex(),
        "final": final,
    }


def block_view(block: Block, *, final: bool) -> dict[str, Any]:
    """A block with its events in full (the ids-only view is built from the header and ids)."""
    view = header_view(block.header, final=final)
    view["event_count"] = len(block.events)
    view["events"] = [event_view(event) for event in block.events]
    return view


def tip_view(tip: ChainTip) -> dict[str, Any]:
    return {"height": tip.height, "hash": tip.hash.hex(), "ts": tip.ts, "state_root": tip.state_root.hex()}


def proof_view(proof: MerkleProof) -> dict[str, Any]:
    return {"index": proof.index, "size": proof.size, "path": [item.hex() for item in proof.path]}


def account_view(did: str, account: Account, next_nonce: int) -> dict[str, Any]:
    return {
        "did": did,
        "registered": bool(account.registered_at),
        "name": account.name,
        "roles": account.roles,
        "balance": account.balance,
        "nonce": account.nonce,
        "next_nonce": next_nonce,
        "registered_at": account.registered_at or None,
    }


def asset_view(record: AssetRecord) -> dict[str, Any]:
    registration = record.registration
    return {
        "id": registration["cid"],
        **hexify(registration),
        "terms": record.terms,
        "terms_since": record.terms_since,
        "status": record.status,
        "registrant": record.registrant,
        "registered_at": record.registered_at,
        "register_event": record.register_event.hex(),
        "reupload_of": record.reupload_of,
        "custody": hexify(record.custody),
        "custody_since": record.custody_since,
    }
