"""The market's RPC on one real node: licensed download and its refusals, search, preflight, errors."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import replace

import pytest

from protocol.events import Access, AppRegister, LicenseGrant, LicensePurchase, ParticipantRegister
from protocol.terms import ALLOWED, PER_ACCESS, PURCHASE, Terms

from .framework import RpcError
from .helpers import Client, asset_body, make_wav, open_sealed

pytestmark = pytest.mark.slow


def post_access(node, raw: bytes, content_type: str = "application/msgpack") -> tuple[int, dict, bytes]:
    request = urllib.request.Request(node.url + "/v1/access", data=raw, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def error_of(body: bytes) -> dict:
    return json.loads(body)["error"]


def expect(status: int, call, *args, **kwargs) -> dict:
    with pytest.raises(RpcError) as caught:
        call(*args, **kwargs)
    assert caught.value.status == status, caught.value
    return {"code": caught.value.code, "message": caught.value.message}


def test_licensed_download_and_its_refusals(start_local_node):
    node = start_local_node()
    creator, consumer = Client(node), Client(node)
    node.wait_final(creator.send(ParticipantRegister("Ada", ("creator",))))
    node.wait_final(consumer.send(ParticipantRegister("Erin", ("consumer", "app_developer"))))
    wav = make_wav(1.0, seed=11)
    upload = creator.upload(wav)
    body = replace(asset_body(upload, creator.did), terms=Terms.make({"data_mining": (ALLOWED, 0), "ai_training": (PURCHASE, 5)}))
    node.wait_final(creator.send(body))
    node_id = node.get("/v1/status")["node_id"]
    cid, size = upload["cid"], upload["size"]

    def access(purpose: str = "data_mining", **changes) -> Access:
        return replace(Access(cid, purpose, None, None, node_id, size, 1_000), **changes)

    # Refused before the rules: wrong type, not an access, another node, other size, a gap.
    status, _, answer = post_access(node, consumer.sign(access(), nonce=2), "application/json")
    assert status == 415
    status, _, answer = post_access(node, consumer.sign(ParticipantRegister("x", ("consumer",)), nonce=2))
    assert status == 400 and "takes a signed access event" in error_of(answer)["message"]
    status, _, answer = post_access(node, consumer.sign(access(node="12D3KooWSomeoneElse"), nonce=2))
    assert status == 409 and error_of(answer)["code"] == "wrong_node"
    status, _, answer = post_access(node, consumer.sign(access(bytes=size - 1), nonce=2))
    assert status == 400 and f"must be the content's size, {size}" in error_of(answer)["message"]
    status, _, answer = post_access(node, consumer.sign(access(), nonce=5))
    assert status == 409 and "next nonce, 2" in error_of(answer)["message"]
    missing = replace(access(), asset="bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
    status, _, answer = post_access(node, consumer.sign(missing, nonce=2))
    assert status == 404

    # Refused by the rules: 403, the reason, and not a byte of content.
    status, headers, answer = post_access(node, consumer.sign(access("ai_training"), nonce=2))
    assert status == 403 and error_of(answer)["code"] == "access_denied"
    assert "buy one for 5 credits" in error_of(answer)["message"] and wav not in answer

    # Allowed: the sealed bytes, their length, and the access id; the same event serves once.
    raw = consumer.sign(access(), nonce=2)
    status, headers, content = post_access(node, raw)
    assert status == 200 and headers["Content-Length"] == str(upload["sealed_size"]) == str(len(content))
    assert wav[4096:8192] not in content and open_sealed(content, upload) == wav
    assert headers["X-Audiera-Cid"] == cid and headers["X-Audiera-Sealed-Cid"] == upload["sealed_cid"]
    status, _, answer = post_access(node, raw)
    assert status == 409 and error_of(answer)["code"] in ("already_used", "already_included", "nonce")
    node.wait_final(headers["X-Audiera-Access"])
    status, _, answer = post_access(node, raw)
    assert status == 409
    kinds = [item["event"]["kind"] for item in node.get(f"/v1/assets/{cid}")["history"]["items"]]
    assert kinds == ["asset.register", "access"], "refused attempts leave nothing on record"
    usage = node.get(f"/v1/assets/{cid}/usage")
    assert usage["totals"]["accesses"] == {"data_mining": 1}


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
    for path in ("/v1/catalog", "/v1/preflight", "/v1/access", "/v1/lineage/{ref}", "/v1/models/{id}/proof", "/v1/royalties/{did}"):
        assert path in paths, path
