"""Checking, on this machine, that an event really is in the block the node says it is.

The node's word is not taken for it: the header it returns must hash to the block hash
the event names and carry a valid signature of its proposer, and the Merkle proof must
lead from the event id to that header's events root.
"""

from __future__ import annotations

from typing import Any

from protocol.blocks import Header, parse_header
from protocol.errors import ProtocolError
from protocol.merkle import MerkleProof, verify_merkle_proof

from node.client import NodeClient

from .errors import CliError


class ProofError(CliError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"proof: INVALID: {reason}")


def verify_inclusion(client: NodeClient, event_id: str, state: dict[str, Any]) -> dict[str, Any]:
    """Verify an included event's proof against its block's header; returns what was checked."""
    try:
        block_hash = state["block"]["hash"]
        proof = MerkleProof(
            index=int(state["proof"]["index"]),
            size=int(state["proof"]["size"]),
            path=tuple(bytes.fromhex(item) for item in state["proof"]["path"]),
        )
    except (KeyError, TypeError, ValueError):
        raise ProofError("the node's answer has no well-formed block and proof") from None
    header = _fetch_header(client, block_hash)
    if proof.index != state.get("index"):
        raise ProofError(f"the proof is for position {proof.index}, the node says the event is at {state.get('index')}")
    try:
        verify_merkle_proof(bytes.fromhex(event_id), proof, header.events_root)
    except ProtocolError as exc:
        raise ProofError(f"event {event_id} is not under the events root of block {block_hash}: {exc.message}") from None
    return {
        "proof": "valid",
        "block_hash": block_hash,
        "height": header.height,
        "events_root": header.events_root.hex(),
        "proposer": header.proposer,
        "header_signature": "valid",
    }


def _fetch_header(client: NodeClient, block_hash: str) -> Header:
    return header_from_view(client.get(f"/v1/blocks/{block_hash}"), block_hash)


def justification_wire(view: dict[str, Any]) -> dict[str, Any]:
    """The wire map of a justification from its JSON view (hex back to bytes), for parse_header."""
    return {
        "source_height": view["source_height"],
        "source_hash": bytes.fromhex(view["source_hash"]),
        "target_height": view["target_height"],
        "target_hash": bytes.fromhex(view["target_hash"]),
        "votes": [[vote["voter"], bytes.fromhex(vote["sig"])] for vote in view["votes"]],
    }


def header_from_view(view: dict[str, Any], block_hash: str) -> Header:
    """The signed header in a block or header view, checked to hash to ``block_hash`` and to carry its proposer's signature."""
    try:
        header = parse_header(
            {
                "v": view["v"],
                "height": view["height"],
                "parent": bytes.fromhex(view["parent"]),
                "ts": view["ts"],
                "proposer": view["proposer"],
                "events_root": bytes.fromhex(view["events_root"]),
                "state_root": bytes.fromhex(view["state_root"]),
                "difficulty": view["difficulty"],
                "justifications": [justification_wire(item) for item in view["justifications"]],
                "sig": bytes.fromhex(view["sig"]),
            }
        )
    except (KeyError, TypeError, ValueError):
        raise ProofError(f"the node's header for block {block_hash} is malformed") from None
    except ProtocolError as exc:
        raise ProofError(f"the node's header for block {block_hash} is invalid: {exc.message}") from None
    if header.hash.hex() != block_hash:
        raise ProofError(f"the header the node returned hashes to {header.hash.hex()}, not {block_hash}")
    try:
        header.verify()
    except ProtocolError as exc:
        raise ProofError(f"the header of block {block_hash} is not signed by its proposer: {exc.message}") from None
    return header
