"""The market's CLI where no node is needed: usage errors, and offline manifest proof checks."""

from __future__ import annotations

import copy
import json

import pytest

from .cli_helpers import run

from node.cli.errors import CliError
from node.cli.manifest_proof import verify_proof_document
from node.rpc.chain_views import header_view, proof_view
from protocol.blocks import Block, Header, compute_events_root, sign_header
from protocol.cid import RAW, cid_to_str, make_cid
from protocol.events import ManifestEntry, ModelRegister, ParticipantRegister, manifest_leaf, sign_event
from protocol.keys import SigningKey
from protocol.manifest_proofs import prove_manifest
from protocol.merkle import merkle_root

DEV, AUTHORITY = SigningKey(b"\x21" * 32), SigningKey(b"\x22" * 32)


CID = cid_to_str(make_cid(RAW, b"x"))
ID = "ab" * 32


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["license", "grant", CID, "--purpose", "ai_training"], "--to"),
        (["license", "grant", CID, "--to", "bob", "--purpose", "ai_training"], "is neither an account"),
        (["license", "grant", CID, "--to", "did:key:nope", "--purpose", "ai_training"], "is not an account"),
        (["license", "grant", CID, "--to", DEV.did, "--purpose", "karaoke"], "invalid choice"),
        (["license", "revoke", "xyz"], "is not an event id"),
        (["license", "buy", "not-a-cid", "--purpose", "ai_training"], "is not an asset id"),
        (["fetch", CID], "--purpose"),
        (["fetch", CID, "--purpose", "ai_training", "--model", "m1"], "is not an event id"),
        (["model", "register", "--name", "m", "--version", "1", "--asset", f"{CID}=nope"], "is not an event id"),
        (["app", "register", "--name", "a", "--version", "1"], "--model"),
        (["lineage", "something"], "is not an asset id"),
        (["royalties", "--from", "last week"], "is not a date"),
        (["search", "--min-duration", "long"], "is not a duration"),
        (["search", "--type", "symphony"], "invalid choice"),
        (["preflight", CID], "--purpose"),
    ],
)
def test_invalid_market_usage_exits_2_with_one_line(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("audiera: ") and fragment in err, err


def test_preflight_needs_assets(capsys):
    code, _, err = run(capsys, "preflight", "--purpose", "ai_training", "--node", "http://127.0.0.1:9")
    assert code == 2 and "needs asset ids" in err


def test_fetch_refuses_to_overwrite(capsys, tmp_path):
    target = tmp_path / "taken.wav"
    target.write_bytes(b"mine")
    code, _, err = run(capsys, "fetch", CID, "--purpose", "data_mining", "-o", str(target))
    assert code == 2 and "--force" in err and target.read_bytes() == b"mine"


# --- offline manifest proofs ------------------------------------------------------------


def proof_document(asset: str) -> dict:
    """What GET /v1/models/{id}/proof answers, built here from a real signed block."""
    cids = sorted(cid_to_str(make_cid(RAW, bytes([n]))) for n in range(5))
    manifest = tuple(ManifestEntry(cid, None) for cid in cids)
    body = ModelRegister("m", "1", None, manifest, merkle_root([manifest_leaf(entry) for entry in manifest]))
    events = [sign_event(DEV, ParticipantRegister("dev", ("model_developer",)), 1, 0), sign_event(DEV, body, 2, 0)]
    header = sign_header(AUTHORITY, Header(3, b"\x00" * 32, 1000, AUTHORITY.did, compute_events_root(events), b"\x01" * 32, 2))
    block = Block(header, tuple(events))
    present, leaves = prove_manifest(manifest, asset)
    return {
        "model": events[1].id.hex(),
        "asset": asset,
        "present": present,
        "leaves": [{"entry": {"asset": leaf.entry.asset, "license": None}, "proof": proof_view(leaf.proof)} for leaf in leaves],
        "event": events[1].raw.hex(),
        "event_proof": proof_view(block.proof_for(1)),
        "block": {"height": 3, "hash": block.hash.hex()},
        "header": header_view(header, final=True),
        "manifest_root": body.manifest_root.hex(),
        "manifest_size": len(manifest),
    }


def test_verify_membership_and_absence_offline():
    inside = cid_to_str(make_cid(RAW, bytes([2])))
    result = verify_proof_document(proof_document(inside))
    assert result["present"] is True and result["manifest_size"] == 5 and result["proposer"] == AUTHORITY.did
    outside = cid_to_str(make_cid(RAW, b"never"))
    assert verify_proof_document(proof_document(outside))["present"] is False


@pytest.mark.parametrize(
    "tamper, fragment",
    [
        (lambda d: d["header"].update(ts=d["header"]["ts"] + 1), "hashes to"),
        (lambda d: d.update(present=not d["present"]), "manifest proof does not hold"),
        (lambda d: d.update(model="cd" * 32), "not the model.register"),
        (lambda d: d["event_proof"].update(index=0), "not in block"),
        (lambda d: d["leaves"][0]["entry"].update(license="ee" * 32), "manifest proof does not hold"),
        (lambda d: d.pop("leaves"), "malformed"),
        (lambda d: d.update(manifest_root="ab" * 32), "manifest_root"),
        (lambda d: d.update(manifest_size=4), "manifest_size"),
    ],
)
def test_invalid_proofs_are_refused(tamper, fragment):
    document = copy.deepcopy(proof_document(cid_to_str(make_cid(RAW, bytes([3])))))
    tamper(document)
    with pytest.raises(CliError) as caught:
        verify_proof_document(document)
    assert caught.value.message.startswith("proof: INVALID") and fragment in caught.value.message


def test_model_verify_command_reads_a_saved_proof(tmp_path, capsys):
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(proof_document(cid_to_str(make_cid(RAW, bytes([1]))))))
    code, out, err = run(capsys, "model", "verify", str(path), "--node", "http://127.0.0.1:9")
    assert code == 0 and "IS in the training manifest" in out, err
    path.write_text("{}")
    code, _, err = run(capsys, "model", "verify", str(path))
    assert code == 1 and "malformed" in err
