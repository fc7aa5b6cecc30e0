"""docs/wire-vectors.json is what protocol/ computes, and each vector checks out by the rules of docs/wire.md."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import nacl.signing
import pytest

from protocol.encoding import decode, encode
from protocol.events import BODY_TYPES, decode_event
from protocol.keys import b58encode

from .factories import valid_bodies
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


def _kind_sections() -> dict[str, str]:
    text = (VECTORS_PATH.parent / "wire.md").read_text()
    bullets = re.findall(r"^- `([a-z.]+)`: (.*?)(?=^- `|^\S|\Z)", text, re.M | re.S)
    return {kind: body for kind, body in bullets}


def test_wire_md_describes_every_kind_and_every_body_field():
    sections = _kind_sections()
    assert set(sections) == set(BODY_TYPES), "docs/wire.md section 5 must list exactly the kinds the node accepts"
    for kind, body in valid_bodies().items():
        for field in body.to_wire():
            assert f"`{field}`" in sections[kind], f"docs/wire.md does not describe {kind} body field {field!r}"
