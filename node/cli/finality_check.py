"""Checking, on this machine, whether a block is final by the votes its chain's headers carry.

As a light client would: headers are fetched from the node from height 1, each must hash
to what its child names as parent (the first one naming the genesis), carry its proposer's
signature, and every justification in them is checked with ``protocol.finality``'s own
``apply_justifications`` (a quorum of valid votes from the authority set). The node's word
on finality is not taken; only its headers are, and they are checked.

The authority set is the genesis set: a light client sees no event bodies, so when the set
was changed by a vote since, a justification signed by the new set is reported as not
checkable here rather than as invalid.
"""

from __future__ import annotations

from typing import Any

from protocol.errors import InvalidBlock, ProtocolError
from protocol.finality import HeaderFinality, apply_justifications

from node.client import NodeClient

from .proofs import ProofError, header_from_view

HEADER_PAGE = 1000
LOOKAHEAD = 16
"""Headers after the block to read: its justification and its child's come in the next few."""


def check_finality(client: NodeClient, height: int, block_hash: str) -> dict[str, Any]:
    """Follow the header chain from genesis to a little past ``height``; say whether the block is final by it."""
    genesis = client.get("/v1/genesis")
    authorities = tuple(genesis["authorities"])
    parent_hash = bytes.fromhex(genesis["hash"])
    carried = HeaderFinality.genesis(parent_hash)
    shown_justified = {carried.justified}
    hashes = {0: parent_hash}
    start, stop = 1, None
    checked = 0
    while stop is None or start <= stop:
        page = client.get("/v1/headers", {"from": start, "limit": HEADER_PAGE})
        if stop is None:
            stop = min(page["head_height"], height + LOOKAHEAD)
        views = page["headers"]
        if not views:
            break
        for view in views:
            if view["height"] > stop:
                break
            header = header_from_view(view, view["hash"])
            if header.height != len(hashes) or header.parent != hashes[header.height - 1]:
                raise ProofError(f"header {header.height} does not follow header {header.height - 1} the node returned")
            if header.proposer not in authorities:
                return _unchecked(height, checked, f"block {header.height} is signed by {header.proposer}, not a genesis authority")
            try:
                carried = apply_justifications(
                    carried, header, hashes.get, lambda _: authorities, carried_justified=shown_justified.__contains__
                )
                shown_justified.add(carried.justified)
            except InvalidBlock as exc:
                if "not an authority" in exc.message:
                    return _unchecked(height, checked, exc.message)
                raise ProofError(f"header {header.height} carries a bad justification: {exc.message}") from None
            except ProtocolError as exc:
                raise ProofError(f"header {header.height}: {exc.message}") from None
            hashes[header.height] = header.hash
            checked += 1
        start = views[-1]["height"] + 1
    if hashes.get(height, b"").hex() != block_hash:
        raise ProofError(f"the headers the node returned do not hold block {block_hash} at height {height}")
    return {
        "checked": True,
        "final": carried.final.height >= height,
        "headers_checked": checked,
        "justified_height": carried.justified.height,
        "final_height": carried.final.height,
    }


def _unchecked(height: int, checked: int, reason: str) -> dict[str, Any]:
    return {"checked": False, "final": None, "headers_checked": checked, "reason": reason}


def describe_check(check: dict[str, Any], node_says_final: bool) -> str:
    if not check["checked"]:
        return f"not checked here ({check['reason']})"
    counted = f"{check['headers_checked']} headers' votes checked here"
    if check["final"]:
        return f"final ({counted}; headers show final up to {check['final_height']})"
    if node_says_final:
        return f"final by the node's gossiped votes, not yet by the headers ({counted}; final up to {check['final_height']})"
    return f"not final ({counted}; final up to {check['final_height']})"
