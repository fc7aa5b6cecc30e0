"""docs/wire-vectors.json is what protocol/ computes, and each vector checks out by the rules of docs/wire.md."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import nacl.signing
import pytest

from protocol.encoding import decode, encode
from protocol.events import decode_event
from protocol.keys import b58encode

from .wire_vectors import VECTORS_PATH, build_vectors, render

VECTORS = json.loads(VECTORS_PATH.read_text())
EVENT_TAG = b"audiera/event/v1\x00"


def from_json(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$bin"}:
        return bytes.fromhex(value["$bin"])
    if isinstance(value, list):
        return [from_json(item) for item in value]
    if isinstance(value, dict):
        return {key: from_json(item) for key, item in value.items()}
    return value


def test_the_file_is_what_the_protocol_computes():
    assert VECTORS_PATH.read_text() == render(build_vectors()), "rerun: python -m tests.protocol.wire_vectors"


@pytest.mark.parametrize("key", VECTORS["keys"], ids=lambda key: key["did"][-6:])
def test_keys_follow_the_did_key_rule(key):
    public_key = bytes(nacl.signing.SigningKey(bytes.fromhex(key["seed_hex"])).verify_key)
    assert public_key.hex() == key["public_key_hex"]
    assert key["did"] == "did:key:z" + b58encode(b"\xed\x01" + public_key)
    assert key["did"].startswith("did:key:z6Mk")


@pytest.mark.parametrize("case", VECTORS["encoding"], ids=lambda case: case["what"])
def test_encoding_vectors_round_trip(case):
    value = from_json(case["value"])
    assert encode(value).hex() == case["hex"]
    assert decode(bytes.fromhex(case["hex"])) == value


@pytest.mark.parametrize("vector", VECTORS["events"], ids=lambda vector: vector["envelope"]["kind"])
def test_event_vectors_follow_the_signing_steps(vector):
    seed = bytes.fromhex(VECTORS["keys"][vector["key"]]["seed_hex"])
    envelope = from_json(vector["envelope"])
    unsigned = bytes.fromhex(vector["unsigned_hex"])
    assert encode(envelope) == unsigned
    assert bytes.fromhex(vector["signing_input_hex"]) == EVENT_TAG + unsigned
    signature = nacl.signing.SigningKey(seed).sign(EVENT_TAG + unsigned).signature
    assert signature.hex() == vector["sig_hex"]
    signed = bytes.fromhex(vector["signed_hex"])
    assert encode({**envelope, "sig": signature}) == signed
    assert hashlib.sha256(signed).hexdigest() == vector["id_hex"]
    event = decode_event(signed)  # the node's own decoder accepts it, signature and all
    assert event.id.hex() == vector["id_hex"]
    assert event.author == VECTORS["keys"][vector["key"]]["did"]


def test_vectors_cover_bin_nil_and_nested_maps():
    kinds = {vector["envelope"]["kind"] for vector in VECTORS["events"]}
    assert {"participant.register", "asset.terms", "asset.register", "access", "license.revoke"} <= kinds
    assert VECTORS["domains"]["event"] == EVENT_TAG.hex()
