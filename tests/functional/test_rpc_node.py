"""One real node through its RPC: the provenance story, bad input, and a restart."""

from __future__ import annotations

import msgpack
import pytest

from protocol.encoding import decode, encode
from protocol.events import AssetTerms, AssetWithdraw, ParticipantRegister
from protocol.merkle import parse_merkle_proof, verify_merkle_proof
from protocol.terms import ALLOWED, Terms

from .framework import RpcError
from .helpers import Client, asset_body, make_wav

pytestmark = pytest.mark.slow


def expect_error(status: int, call, *args, **kwargs) -> dict:
    with pytest.raises(RpcError) as caught:
        call(*args, **kwargs)
    assert caught.value.status == status, caught.value
    error = {"code": caught.value.code, "message": caught.value.message}
    assert error["code"] and error["message"]
    return error


def test_register_upload_history_and_proof(start_local_node):
    node = start_local_node()
    status = node.get("/v1/status")
    for field in ("network_id", "genesis_hash", "head_height", "head_hash", "finalized_height", "finalized_hash", "peers", "syncing"):
        assert field in status

    creator = Client(node)
    registered = node.wait_final(creator.send(ParticipantRegister("Ada Tone", ("creator",))))
    header = node.get(f"/v1/blocks/{registered['block']['hash']}")
    proof = registered["proof"]
    verify_merkle_proof(
        bytes.fromhex(registered["id"]),
        parse_merkle_proof({"index": proof["index"], "size": proof["size"], "path": [bytes.fromhex(p) for p in proof["path"]]}),
        bytes.fromhex(header["events_root"]),
    )

    wav = make_wav(2.0)
    upload = creator.upload(wav)
    assert upload["size"] == len(wav)
    assert upload["media"] == {"format": "wav", "duration_ms": 2000, "sample_rate": 44100, "channels": 2}
    assert creator.upload(wav)["cid"] == upload["cid"], "uploading the same bytes again gives the same CID"

    node.wait_final(creator.send(asset_body(upload, creator.did)))
    node.wait_final(creator.send(AssetTerms(upload["cid"], Terms.make({"ai_training": (ALLOWED, 0)}))))
    asset = node.get(f"/v1/assets/{upload['cid']}")
    assert asset["asset"]["title"] == "Test tone"
    assert asset["asset"]["terms"]["purposes"]["ai_training"]["mode"] == ALLOWED
    assert [item["event"]["kind"] for item in asset["history"]["items"]] == ["asset.register", "asset.terms"]
    assert all(item["final"] for item in asset["history"]["items"])

    first_page = node.get(f"/v1/assets/{upload['cid']}?limit=1")
    second_page = node.get(f"/v1/assets/{upload['cid']}?limit=1&after={first_page['history']['next']}")
    assert second_page["history"]["items"][0]["event"]["kind"] == "asset.terms"

    account = node.get(f"/v1/accounts/{creator.did}")
    assert account["account"]["name"] == "Ada Tone" and account["account"]["next_nonce"] == 4
    assert len(account["activity"]["items"]) == 3

    # Everything survives a clean restart, and the store re-executes consistently.
    assert node.stop() == 0
    node.start()
    assert node.get(f"/v1/assets/{upload['cid']}")["history"]["items"] == asset["history"]["items"]
    node.wait_final(creator.send(AssetWithdraw(upload["cid"], "test over")))
    assert node.get(f"/v1/assets/{upload['cid']}")["asset"]["status"] == "withdrawn"


def test_bad_input_is_refused_and_nothing_is_stored(start_local_node):
    node = start_local_node()
    alice, mallory = Client(node), Client(node)
    node.wait_final(alice.send(ParticipantRegister("Alice", ("creator",))))
    head_before = node.get("/v1/status")["head_height"]

    good = alice.sign(ParticipantRegister("Alice again", ("consumer",)), nonce=2)
    wire = decode(good)

    expect_error(415, node.request, "POST", "/v1/events", body=good, content_type="application/json")
    assert expect_error(400, node.submit, b"\xc1garbage")["code"] == "malformed"
    non_canonical = msgpack.packb(dict(reversed(list(wire.items()))), use_bin_type=True)
    assert "canonical" in expect_error(400, node.submit, non_canonical)["message"]
    forged = encode({**wire, "sig": bytes(64)})
    assert expect_error(400, node.submit, forged)["code"] == "bad_signature"
    unknown = encode({**wire, "kind": "asset.steal"})
    assert "unknown event kind" in expect_error(400, node.submit, unknown)["message"]
    assert "missing" in expect_error(400, node.submit, encode({k: v for k, v in wire.items() if k != "nonce"}))["message"]
    expect_error(413, node.request, "POST", "/v1/events", body=b"\x00" * (2 * 1024 * 1024), content_type="application/msgpack")

    # Nonces: a replay of an included event, a reused nonce, and one too far ahead.
    first = alice.node.get(f"/v1/accounts/{alice.did}")["activity"]["items"][0]["event"]
    replay = node.get(f"/v1/events/{first['id']}")
    assert replay["status"] == "final"
    assert "already used" in expect_error(409, node.submit, alice.sign(ParticipantRegister("x", ("creator",)), nonce=1))["message"]
    assert "too far ahead" in expect_error(409, node.submit, alice.sign(ParticipantRegister("x", ("creator",)), nonce=500))["message"]
    # State rules: already registered; an unregistered author; content that is not here.
    assert "already registered" in expect_error(409, node.submit, good)["message"]
    upload = mallory.upload(make_wav(0.5, seed=3))
    assert "register as a participant" in expect_error(409, node.submit, mallory.sign(asset_body(upload, mallory.did)))["message"]
    # Neither the content nor its sealed file was ever uploaded here.
    missing = {
        **upload,
        "cid": "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
        "sealed_cid": "bafkreia6sj3oh7mmeagbwvnuf53qowsga5yonasllledc5fdsfuukrf7ae",
        "size": 0,
    }
    alice.nonce = 1
    assert "not on this node" in expect_error(409, node.submit, alice.sign(asset_body(missing, alice.did)))["message"]
    lying = {**upload, "size": upload["size"] + 1}
    assert "does not match" in expect_error(409, node.submit, alice.sign(asset_body(lying, alice.did), nonce=2))["message"]

    # Uploads: wrong content type, empty.
    expect_error(415, node.request, "POST", "/v1/content", body=b"text", content_type="text/plain")
    expect_error(400, node.request, "POST", "/v1/content", body=b"", content_type="audio/wav")

    # Unknown and malformed ids.
    expect_error(404, node.get, "/v1/events/" + "ab" * 32)
    expect_error(400, node.get, "/v1/events/xyz")
    expect_error(404, node.get, "/v1/assets/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
    expect_error(400, node.get, "/v1/assets/QmNotACidV1")
    expect_error(400, node.get, "/v1/accounts/did:key:zNope")
    expect_error(404, node.get, "/v1/blocks/999999999")
    expect_error(400, node.get, "/v1/blocks/tip")
    expect_error(404, node.get, "/v1/nothing-here")
    expect_error(400, node.get, "/v1/assets/" + upload["cid"] + "?limit=0")

    # The node kept running and producing, and the bad input changed nothing it stored.
    node.wait_for_height(head_before + 2)
    account = node.get(f"/v1/accounts/{alice.did}")["account"]
    assert account["name"] == "Alice" and account["nonce"] == 1
    assert node.get(f"/v1/accounts/{mallory.did}")["account"]["registered"] is False
    assert node.stop() == 0


def test_upload_over_the_limit_is_refused(start_local_node, tmp_path):
    node = start_local_node()
    node.stop()
    config = node.config.read_text().replace("[rpc]\n", "[rpc]\nmax_upload_bytes = 100000\n")
    node.config.write_text(config)
    node.start()
    error = expect_error(413, node.request, "POST", "/v1/content", body=b"\x01" * 200_000, content_type="audio/wav")
    assert "limit" in error["message"]
    assert list((node.config.parent / "data" / "content" / "tmp").iterdir()) == []


def test_openapi_lists_every_route(start_local_node):
    node = start_local_node()
    document = node.get("/v1/openapi.json")
    assert document["openapi"].startswith("3.")
    for path in ("/v1/status", "/v1/events", "/v1/events/{id}", "/v1/assets/{cid}", "/v1/accounts/{did}", "/v1/blocks/{ref}", "/v1/content"):
        assert path in document["paths"], path
