"""How an asset, its terms and its history read to a person."""

from __future__ import annotations

from typing import Any

from protocol.events import TOTAL_SHARE_BPS
from protocol.terms import PURPOSES

from .events_view import activity_table
from .paging import more_hint
from .output import fields, format_bytes, format_media, format_time, yes_no


def render_terms(terms: dict[str, Any], indent: str = "  ") -> str:
    rows = []
    # The node stores terms with sorted keys; show them in the protocol's order instead.
    ordered = sorted(terms["purposes"].items(), key=lambda item: PURPOSES.index(item[0]) if item[0] in PURPOSES else 99)
    for purpose, rule in ordered:
        mode, price = rule["mode"], rule["price"]
        if mode == "purchase":
            rows.append((purpose, f"purchase a license for {price} credits"))
        elif mode == "per_access":
            rows.append((purpose, f"{price} credits per access"))
        else:
            rows.append((purpose, mode))
    rows += [
        ("commercial use", yes_no(terms["commercial"])),
        ("attribution", "required" if terms["attribution"] else "not required"),
        ("derivatives", yes_no(terms["derivatives"])),
        ("expires", format_time(terms["expires"]) if terms["expires"] else "never"),
    ]
    return fields(rows, indent=indent)


def render_holders(holders: list[dict[str, Any]], indent: str = "  ") -> str:
    return fields(
        [(share["account"], f"{share['share_bps'] * 100 / TOTAL_SHARE_BPS:.2f}%") for share in holders], indent=indent
    )


def _reupload(match: dict[str, Any] | None) -> str | None:
    return None if not match else f"{match['asset']} (fingerprint score {match['score_bps'] / 100:g}%)"


def render_asset(document: dict[str, Any]) -> str:
    asset = document["asset"]
    facts = fields(
        [
            ("asset", asset["id"]),
            ("title", asset["title"]),
            ("type", asset["asset_type"]),
            ("genre", asset["genre"] or None),
            ("tags", ", ".join(asset["tags"]) or None),
            ("description", asset["description"] or None),
            ("isrc", asset["isrc"] or None),
            ("iswc", asset["iswc"] or None),
            ("size", format_bytes(asset["size"])),
            ("media", format_media(asset["media"])),
            ("status", asset["status"]),
            ("registrant", asset["registrant"]),
            ("registered", f"block {asset['registered_at']}, event {asset['register_event']}"),
            ("likely re-upload of", _reupload(asset.get("reupload_of"))),
        ]
    )
    sections = [facts, "rights holders:", render_holders(asset["rights_holders"])]
    if asset["parents"]:
        sections += ["parents:", fields([(p["asset"], p["relation"]) for p in asset["parents"]], indent="  ")]
    sections += [f"terms (in force since block {asset['terms_since']}):", render_terms(asset["terms"])]
    history = document["history"]
    sections += ["history:", activity_table(history["items"], indent="  ")]
    return "\n".join(sections) + more_hint(history, f"audiera asset show {asset['id']}")
