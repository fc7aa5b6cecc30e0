"""What the upload's answer says about re-uploads: the fingerprint and a likely original.

The lookup runs on the committed state, so it finds assets registered before this
upload; the rules repeat it when the registration lands (protocol/fingerprints.py) and
record the result with the asset, which is what the catalog shows.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from protocol.fingerprints import MAX_FRAMES, Match, find_match
from protocol.records import get_asset
from storage.state_scan import StateScan

from ..services import Services
from .context import services_of
from .errors import ApiError, bad_request


def match_view(scan: StateScan, match: dict[str, Any] | Match | None) -> dict[str, Any] | None:
    """A likely original, with its title and rights holders, for the record or the upload's answer."""
    if match is None:
        return None
    wire = match.to_wire() if isinstance(match, Match) else match
    original = get_asset(scan, wire["asset"])
    assert original is not None, "a re-upload flag names an asset the state does not hold"
    return {**wire, "title": original.registration["title"], "rights_holders": original.registration["rights_holders"]}


def reupload_answer(services: Services, fingerprint: bytes) -> dict[str, Any]:
    if not fingerprint:
        return {"fingerprint": None, "possible_reupload_of": None}
    with services.ledger.chain.scan_state() as scan:
        return {"fingerprint": fingerprint.hex(), "possible_reupload_of": match_view(scan, find_match(scan, fingerprint))}


async def match_fingerprint(request: web.Request) -> web.Response:
    """The registered asset a fingerprint (its raw bytes, application/octet-stream) most likely is, or null."""
    if request.content_type != "application/octet-stream":
        raise ApiError(415, "unsupported_media_type", "send the fingerprint's bytes as application/octet-stream")
    if request.content_length is not None and request.content_length > 4 * MAX_FRAMES:
        raise ApiError(413, "too_large", f"a fingerprint has at most {MAX_FRAMES} frames of 4 bytes")
    fingerprint = await request.read()
    if len(fingerprint) % 4 or len(fingerprint) > 4 * MAX_FRAMES:
        raise bad_request(f"a fingerprint is whole 32-bit frames, at most {MAX_FRAMES}; this one has {len(fingerprint)} bytes")
    with services_of(request).ledger.chain.scan_state() as scan:
        match = match_view(scan, find_match(scan, fingerprint)) if fingerprint else None
    return web.json_response({"frames": len(fingerprint) // 4, "match": match})


ROUTES = [
    ("POST", "/v1/fingerprints/match", match_fingerprint, "The registered asset a fingerprint most likely re-uploads, with its score"),
]
"""Registered by the RPC app's route table."""
