"""The market's RPC on one real node: a licensed access and its key, search, preflight, errors."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from protocol.events import Access, AppRegister, LicenseGrant, LicensePurchase, ParticipantRegister
from protocol.terms import ALLOWED, PER_ACCESS, PURCHASE, Terms

from node.client import NodeClient
from node.client.access import AccessFailed, fetch_asset
from protocol.key_custody import build_custody

from .framework import RpcError
from .helpers import Client, asset_body, make_wav

pytestmark = pytest.mark.slow


def expect(status: int, call, *args, **kwargs) -> dict:
    with pytest.raises(RpcError) as caught:
        call(*args, **kwargs)
    assert caught.value.status == status, caught.value
    return {"code": caught.value.code, "message": caught.value.message}


def test_an_application_gets_a_final_access_s_key_and_decrypts(start_local_node, tmp_path):
    """The client library's fetch_asset: the access, its release, the sealed bytes, the CID check."""
    node = start_local_node()
    creator, consumer = Client(node), Client(node)
    node.wait_final(creator.send(ParticipantRegister("Ada", ("creator",))))
    node.wait_final(consumer.send(ParticipantRegister("Erin", ("consumer", "app_developer"))))
    wav = make_wav(1.0, seed=11)
    upload = creator.upload(wav)
    cid, size = upload["cid"], upload["size"]
    authorities = node.get("/v1/authorities")["authorities"]
    custody = build_custody(bytes.fromhex(upload["content_key"]), cid, authorities, [creator.did])
    body = replace(asset_body(upload, creator.did), terms=Terms.make({"data_mining": (ALLOWED, 0), "ai_training": (PURCHASE, 5)}), custody=custody)
    node.wait_final(creator.send(body))

    # The plain download route is gone; the sealed bytes are anyone's and hold no plain audio.
    assert "no endpoint" in expect(404, node.request, "POST", "/v1/access", body=b"x", content_type="application/msgpack")["message"]
    with node.rpc.open_stream("GET", f"/v1/content/{cid}") as download:
        sealed = b"".join(download.pieces())
    assert len(sealed) > size and wav[4096:4160] not in sealed

    # Refused by the rules: nothing signed goes on record, no file appears.
    with NodeClient(node.url) as client:
        with pytest.raises(AccessFailed, match="buy one for 5 credits"):
            fetch_asset(client, consumer.key, cid, "ai_training", tmp_path / "denied.wav")
        assert not (tmp_path / "denied.wav").exists()
        opened = fetch_asset(client, consumer.key, cid, "data_mining", tmp_path / "erin.wav", timeout=30)
    assert (tmp_path / "erin.wav").read_bytes() == wav and opened.releases_used == (1,)
    answer = node.get(f"/v1/access/{opened.access}/releases")
    assert answer["final"] and answer["consumer"] == consumer.did and [r["index"] for r in answer["releases"]] == [1]
    assert expect(404, node.get, "/v1/access/" + "ab" * 32 + "/releases")["code"] == "not_found"
    register_id = node.get(f"/v1/assets/{cid}")["asset"]["register_event"]
    assert expect(400, node.get, f"/v1/access/{register_id}/releases")["code"] == "not_an_access"
    kinds = [item["event"]["kind"] for item in node.get(f"/v1/assets/{cid}")["history"]["items"]]
    assert kinds == ["asset.register", "access"], "refused attempts leave nothing on record"


def test_market_queries(start_local_node):
    node = start_local_node()
    alice, bob = Client(node), Client(node)
    node.wait_final(alice.send(ParticipantRegister("Alice", ("creator",))))
    node.wait_final(bob.send(ParticipantRegister("Bob", ("consumer", "app_developer"))))
    titles = ["Zulu night", "alpha night", "Mike day"]
    cids = []
    for seed, title in enumerate(titles):
        upload = alice.upload(make_wav(0.5 + seed, seed=20 + seed))
        terms = [Terms.make({"ai_training": (PURCHASE, 3)}), Terms.make({"ai_training": (ALLOWED, 0)}), Terms.make({"ai_inference": (PER_ACCESS, 2)})][seed]
        body = replace(asset_body(upload, alice.did, title=title), terms=terms, isrc="USRC1760783" + str(seed))
        node.wait_final(alice.send(body))
        cids.append(upload["cid"])

    def search(query: str) -> dict:
        return node.get("/v1/catalog?" + query)

    assert [hit["id"] for hit in search("q=night")["items"]] == [cids[1], cids[0]], "newest first"
    assert [hit["title"] for hit in search("q=night&sort=title")["items"]] == ["alpha night", "Zulu night"]
    assert [hit["id"] for hit in search("purpose=ai_training&max_price=0")["items"]] == [cids[1]]
    assert [hit["id"] for hit in search("purpose=ai_training&max_price=3")["items"]] == [cids[1], cids[0]]
    assert [hit["id"] for hit in search("isrc=usrc17607832")["items"]] == [cids[2]]
    assert [hit["id"] for hit in search("min_duration_ms=1000&max_duration_ms=2000")["items"]] == [cids[1]]
    assert [hit["id"] for hit in search(f"creator={alice.did}&q=generated+sine&type=track")["items"]] == cids[::-1]
    assert search("q=nothing+matches")["items"] == []
    pages, after = [], None
    while True:
        page = search("limit=1" + (f"&after={after}" if after else ""))
        pages += [hit["id"] for hit in page["items"]]
        after = page["next"]
        if not after:
            break
    assert pages == cids[::-1]
    assert "unknown search parameter" in expect(400, node.get, "/v1/catalog?colour=red")["message"]
    assert "needs purpose" in expect(400, node.get, "/v1/catalog?max_price=3")["message"]
    expect(400, node.get, "/v1/catalog?sort=random")

    # Preflight: per asset, with and without the account's licenses.
    grant = alice.send(LicenseGrant(cids[2], bob.did, ("ai_training",), 0, 1))
    node.wait_final(grant)
    answer = node.request("POST", "/v1/preflight", body=json.dumps({"assets": cids, "purpose": "ai_training", "account": bob.did}).encode(), content_type="application/json")
    assert [item["status"] for item in answer["items"]] == ["purchase", "allowed", "allowed"]
    assert answer["items"][2]["license"] == grant and answer["summary"]["purchase_total"] == 3
    assert answer["items"][0]["attribution"]["credit"][0]["name"] == "Alice"
    anonymous = node.request("POST", "/v1/preflight", body=json.dumps({"assets": cids[2:], "purpose": "ai_training"}).encode(), content_type="application/json")
    assert anonymous["items"][0]["status"] == "denied"
    expect(400, node.request, "POST", "/v1/preflight", body=b"[]", content_type="application/json")
    expect(400, node.request, "POST", "/v1/preflight", body=json.dumps({"assets": cids, "purpose": "karaoke"}).encode(), content_type="application/json")

    # Licenses by account and by asset; one license; purchases move credits.
    held = node.get(f"/v1/accounts/{bob.did}/licenses")["licenses"]["items"]
    assert [(item["id"], item["status"], item["max_accesses"]) for item in held] == [(grant, "in_force", 1)]
    assert node.get(f"/v1/assets/{cids[2]}/licenses")["licenses"]["items"][0]["grantee"] == bob.did
    assert node.get(f"/v1/licenses/{grant}")["source"] == "grant"
    expect(404, node.get, "/v1/licenses/" + "ab" * 32)
    refused = expect(409, node.submit, bob.sign(LicensePurchase(cids[0], ("ai_training",), 3)))
    assert "costs 3 credits" in refused["message"] and "has 0" in refused["message"]
    bob.nonce -= 1

    # Lineage and proofs of unknown things; royalties with a bad date.
    expect(404, node.get, "/v1/lineage/" + "cd" * 32)
    expect(404, node.get, f"/v1/models/{grant}/proof?asset={cids[0]}")
    assert "is not registered" in expect(409, node.submit, bob.sign(AppRegister("app", "1", (bytes(32),))))["message"]
    bob.nonce -= 1
    assert node.get(f"/v1/lineage/{cids[0]}")["models"] == []
    assert expect(400, node.get, f"/v1/royalties/{alice.did}?from=yesterday")["message"].startswith("from must be a date")
    statement = node.get(f"/v1/royalties/{alice.did}")
    assert statement["items"] == [] and statement["balance"] == 0

    paths = node.get("/v1/openapi.json")["paths"]
    for path in ("/v1/catalog", "/v1/preflight", "/v1/access/{id}/releases", "/v1/lineage/{ref}", "/v1/models/{id}/proof", "/v1/royalties/{did}"):
        assert path in paths, path
