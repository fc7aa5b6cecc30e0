"""Checking, on this machine and without trusting the node, a manifest membership proof.

A proof document (``GET /v1/models/{id}/proof``, or a file saved by ``audiera model
prove -o``) carries the block header, the model's register event with its Merkle path
to that header's events root, and one or two manifest leaves with their paths. Checked
here, in order: the header hashes to the block hash and is signed by its proposer; the
event is a model.register whose id is the model's and which lies under the events root;
its manifest root and size (taken from the event itself, not from the node's word) are
what the leaves lead to, and the leaves prove presence or absence
(protocol/manifest_proofs.py). What is left to trust is the block hash: compare it with
one from a node or explorer you trust.
"""

from __future__ import annotations

from typing import Any

from protocol.errors import ProtocolError
from protocol.events import ManifestEntry, ModelRegister, decode_event
from protocol.manifest_proofs import LeafProof, verify_manifest_proof
from protocol.merkle import parse_merkle_proof, verify_merkle_proof

from .proofs import ProofError, header_from_view


def _proof(view: Any) -> Any:
    return parse_merkle_proof({"index": view["index"], "size": view["size"], "path": [bytes.fromhex(p) for p in view["path"]]})


def verify_proof_document(document: Any, *, model: str | None = None, asset: str | None = None) -> dict[str, Any]:
    """Verify a proof document; returns what was proven. Raises ProofError naming what failed."""
    try:
        block_hash = document["block"]["hash"]
        header = header_from_view(document["header"], block_hash)
        raw = bytes.fromhex(document["event"])
        event_proof = _proof(document["event_proof"])
        claimed_model, claimed_asset, present = document["model"], document["asset"], document["present"]
        leaves = [
            LeafProof(
                ManifestEntry(leaf["entry"]["asset"], bytes.fromhex(leaf["entry"]["license"]) if leaf["entry"]["license"] else None),
                _proof(leaf["proof"]),
            )
            for leaf in document["leaves"]
        ]
    except ProofError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ProofError("the proof document is malformed") from None
    except ProtocolError as exc:
        raise ProofError(f"the proof document is malformed: {exc.message}") from None
    if model is not None and claimed_model != model:
        raise ProofError(f"the proof is about model {claimed_model}, not {model}")
    if asset is not None and claimed_asset != asset:
        raise ProofError(f"the proof is about asset {claimed_asset}, not {asset}")
    if not isinstance(present, bool):
        raise ProofError("the proof document is malformed: present must be true or false")
    try:
        event = decode_event(raw)
    except ProtocolError as exc:
        raise ProofError(f"the model's register event is invalid: {exc.message}") from None
    if event.id.hex() != claimed_model or not isinstance(event.body, ModelRegister):
        raise ProofError(f"the event in the proof is not the model.register of model {claimed_model}")
    try:
        verify_merkle_proof(event.id, event_proof, header.events_root)
    except ProtocolError as exc:
        raise ProofError(f"the model's register event is not in block {block_hash}: {exc.message}") from None
    body = event.body
    # The node's copy of the root and size is a convenience; the event's own are what count,
    # and a document whose copy differs was altered (or the node lied): say so, never pass it.
    for field, committed in (("manifest_root", body.manifest_root.hex()), ("manifest_size", len(body.manifest))):
        if field in document and document[field] != committed:
            raise ProofError(f"the proof document's {field} {document[field]} is not the {committed} its model.register event commits to")
    try:
        verify_manifest_proof(body.manifest_root, len(body.manifest), claimed_asset, present, leaves)
    except ProtocolError as exc:
        raise ProofError(f"the manifest proof does not hold: {exc.message}") from None
    return {
        "model": claimed_model,
        "asset": claimed_asset,
        "present": present,
        "proof": "valid",
        "leaves": len(leaves),
        "manifest_root": body.manifest_root.hex(),
        "manifest_size": len(body.manifest),
        "height": header.height,
        "block_hash": block_hash,
        "events_root": header.events_root.hex(),
        "proposer": header.proposer,
        "header_signature": "valid",
    }
