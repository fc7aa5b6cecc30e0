"""Short human descriptions of events, shared by asset history, account activity and blocks."""

from __future__ import annotations

from typing import Any

from .output import short_id, table, yes_no


def short_did(did: str) -> str:
    """``did:key:z6Mk…abc123``: the prefix says what it is, the tail tells accounts apart."""
    return did if len(did) <= 24 else f"{did[:12]}…{did[-8:]}"


def describe(event: dict[str, Any]) -> str:
    """One line on what an event (as the RPC shows it) does."""
    body, kind = event["body"], event["kind"]
    if kind == "participant.register":
        return f"{body['name']} ({', '.join(body['roles'])})"
    if kind == "asset.register":
        return f"{body['title']!r} {body['asset_type']} {body['cid']}"
    if kind == "asset.withdraw":
        return f"{body['asset']}" + (f": {body['reason']}" if body.get("reason") else "")
    if kind in ("model.register", "app.register"):
        return f"{body['name']} {body['version']}"
    if kind == "authority.vote":
        return f"{'add' if body['add'] else 'remove'} {body['candidate']}"
    if kind == "asset.terms":
        return f"{body['asset']}: {summarize_terms(body['terms'])}"
    if "asset" in body:
        return str(body["asset"])
    return ""


def summarize_terms(terms: dict[str, Any]) -> str:
    """The purposes that are not denied, e.g. ``ai_training allowed, data_mining purchase 5``."""
    parts = [
        f"{purpose} {rule['mode']}" + (f" {rule['price']}" if rule["price"] else "")
        for purpose, rule in terms["purposes"].items()
        if rule["mode"] != "denied"
    ]
    return ", ".join(parts) or "every purpose denied"


def event_outcome(state: dict[str, Any]) -> list[tuple[str, Any]]:
    """``event`` and ``status`` lines for an event the CLI submitted."""
    status = state["status"]
    block = state.get("block")
    if block:
        status += f" in block {block['height']}"
    return [("event", state["id"]), ("status", status)]


def activity_table(items: list[dict[str, Any]], indent: str = "") -> str:
    """History entries (``{height, index, final, event}``) as a table, oldest first."""
    rows = [
        (
            item["height"],
            item["event"]["kind"],
            short_did(item["event"]["author"]),
            yes_no(item["final"]),
            describe(item["event"]),
        )
        for item in items
    ]
    return table(["HEIGHT", "KIND", "AUTHOR", "FINAL", "WHAT"], rows, indent=indent)


def block_events_table(events: list[dict[str, Any]], indent: str = "") -> str:
    rows = [
        (index, short_id(event["id"]), event["kind"], short_did(event["author"]), describe(event))
        for index, event in enumerate(events)
    ]
    return table(["#", "ID", "KIND", "AUTHOR", "WHAT"], rows, indent=indent)

