"""A JavaScript client written only from docs/wire.md: its bytes match the vectors, and a real node accepts its events."""

from __future__ import annotations

import os

import pytest

from protocol.events import ParticipantRegister

from .helpers import Client, asset_body, make_wav
from .js_client import audiera_js, audiera_js_refused, require_node

VECTORS = "../../docs/wire-vectors.json"


def test_js_client_reproduces_every_wire_vector():
    require_node()
    checked = audiera_js("vectors", VECTORS)
    assert checked["events"] >= 5 and checked["encodings"] >= 20 and checked["keys"] == 2


@pytest.mark.slow
def test_node_accepts_a_participant_register_and_asset_terms_signed_in_javascript(start_local_node):
    require_node()
    node = start_local_node()
    seed = os.urandom(32).hex()

    registered = audiera_js("register", "--node", node.url, "--seed", seed, "--name", "Jay Script", "--roles", "creator")
    assert registered["status"] == "pending" and registered["nonce"] == 1
    node.wait_final(registered["id"])
    js_did = registered["author"]
    assert node.get(f"/v1/accounts/{js_did}")["account"]["name"] == "Jay Script"

    # A Python account registers an asset that the JavaScript account holds half of.
    partner = Client(node)
    node.wait_final(partner.send(ParticipantRegister("Py Partner", ("creator",))))
    upload = partner.upload(make_wav(0.5))
    node.wait_final(partner.send(asset_body(upload, partner.did, holders=[(partner.did, 5000), (js_did, 5000)])))

    changed = audiera_js(
        "set-terms", "--node", node.url, "--seed", seed, "--asset", upload["cid"],
        "--allow", "data_mining", "--purchase", "ai_training=7", "--commercial",
    )
    assert changed["nonce"] == 2, "the client read its next nonce from the node"
    final = node.wait_final(changed["id"])
    assert final["event"]["author"] == js_did and final["event"]["kind"] == "asset.terms"
    terms = node.get(f"/v1/assets/{upload['cid']}")["asset"]["terms"]
    assert terms["purposes"]["ai_training"] == {"mode": "purchase", "price": 7}
    assert terms["purposes"]["data_mining"] == {"mode": "allowed", "price": 0}
    assert terms["commercial"] is True


@pytest.mark.slow
def test_node_refuses_a_javascript_event_for_an_unregistered_author(start_local_node):
    require_node()
    node = start_local_node()
    outsider = Client(node)
    node.wait_final(outsider.send(ParticipantRegister("Owner", ("creator",))))
    upload = outsider.upload(make_wav(0.5, seed=3))
    node.wait_final(outsider.send(asset_body(upload, outsider.did)))
    refusal = audiera_js_refused(
        "set-terms", "--node", node.url, "--seed", os.urandom(32).hex(), "--asset", upload["cid"], "--allow", "data_mining"
    )
    assert "must register as a participant" in refusal and "409" in refusal
