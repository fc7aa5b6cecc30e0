"""What the upload's answer says about re-uploads: the fingerprint and a likely original.

The lookup runs on the committed state, so it finds assets registered before this
upload; the rules repeat it when the registration lands (protocol/fingerprints.py) and
record the result with the asset, which is what the catalog shows.
"""

from __future__ import annotations

from typing import Any

from protocol.fingerprints import Match, find_match
from protocol.records import get_asset
from storage.state_scan import StateScan

from ..services import Services


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
