"""Key releases through four real authorities: only for final accesses, k recover the key, k-1 do not.

An asset's key is shared 2-of-4 among the authorities in its registration. A licensed
access becomes final and every authority releases its share, sealed to the consumer;
the consumer's client checks and combines them. A wrong-purpose, revoked or expired
access is refused by the rules and gets no release; two accesses with one nonce sent to
two authorities at once leave exactly one on record, and only that one gets keys. One
authority's share alone recovers nothing.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import replace

import pytest

from node.client import RpcError
from node.files.node_keys import read_key_file
from protocol.events import Access, LicenseGrant, LicenseRevoke, ParticipantRegister
from protocol.key_custody import NotEnoughShares, build_custody, check_share, combine_shares, open_sealed, parse_custody, recover_key
from protocol.releases import decode_release

from .framework import event_status, wait_final_everywhere, wait_for_peers, wait_until
from .helpers import Client, asset_body, make_wav

pytestmark = pytest.mark.slow


def releases_of(node, access: str) -> list:
    try:
        return node.get(f"/v1/access/{access}/releases")["releases"]
    except RpcError as exc:
        assert exc.status == 404, exc
        return []


def custody_of(node, cid: str):
    wire = node.get(f"/v1/assets/{cid}?limit=1")["asset"]["custody"]
    return parse_custody({**wire, "shares": [{**s, "sealed": bytes.fromhex(s["sealed"]), "commitment": bytes.fromhex(s["commitment"])} for s in wire["shares"]],
                          "holder_copies": [{**c, "sealed": bytes.fromhex(c["sealed"])} for c in wire["holder_copies"]]})


def access(cid: str, size: int, node_id: str, purpose: str = "ai_training") -> Access:
    return Access(asset=cid, purpose=purpose, model=None, app=None, node=node_id, bytes=size, max_price=0)


def test_releases_only_for_final_accesses_and_k_of_n_recover(start_network, tmp_path):
    nodes = start_network(4, authorities=4, block_period_ms=300)
    for node in nodes:
        wait_for_peers(node, 3)
    ada, mia, leo = Client(nodes[0]), Client(nodes[1]), Client(nodes[2])
    for person, name, roles in [(ada, "Ada", ("creator",)), (mia, "Mia", ("consumer",)), (leo, "Leo", ("consumer",))]:
        nodes[0].wait_final(person.send(ParticipantRegister(name, roles)))

    upload = ada.upload(make_wav(0.5, seed=7))
    cid, size = upload["cid"], upload["size"]
    authorities = nodes[0].get("/v1/authorities")["authorities"]
    content_key = secrets.token_bytes(32)
    custody = build_custody(content_key, cid, authorities, [ada.did])
    nodes[0].wait_final(ada.send(replace(asset_body(upload, ada.did), custody=custody)))
    assert custody_of(nodes[1], cid) == custody and custody.threshold == 2

    # --- a licensed access, final: every authority releases its share ------------------------
    nodes[0].wait_final(ada.send(LicenseGrant(asset=cid, grantee=mia.did, purposes=("ai_training",), expires=0, max_accesses=0)))
    node_id = nodes[1].get("/v1/status")["node_id"]
    licensed = mia.send(access(cid, size, node_id))
    wait_final_everywhere(nodes, licensed)
    releases = wait_until(lambda: (r := releases_of(nodes[1], licensed)) and len(r) == 4 and r, what="4 releases on the consumer's node")
    opened = {}
    for item in releases:
        release = decode_release(bytes.fromhex(item["release"]))
        assert release.access.hex() == licensed and release.asset == cid
        assert release.releaser == custody.share_at(release.index).holder
        share = open_sealed(mia.key, release.sealed_share)
        assert open_sealed(leo.key, release.sealed_share) is None  # sealed to the consumer alone
        check_share(cid, custody.share_at(release.index), share)
        opened[release.index] = share
    for pair in [(1, 2), (2, 3), (3, 4), (1, 4)]:
        assert recover_key(cid, custody, {i: opened[i] for i in pair}) == content_key
    history = nodes[2].get(f"/v1/assets/{cid}?limit=100")["history"]["items"]
    assert [item["key_releases"] for item in history if item["event"]["kind"] == "access"] == [4]

    # --- k-1 authorities (one of four) learn nothing: their shares combine to something else -
    authority = read_key_file(tmp_path / "net" / "node0" / "authority.key")
    own = custody.share_of(authority.did)
    alone = open_sealed(authority, own.sealed)
    assert alone is not None and combine_shares({own.index: alone}) != content_key
    with pytest.raises(NotEnoughShares):
        recover_key(cid, custody, {own.index: alone})

    # --- wrong purpose, revoked, expired: refused by the rules, so never final, never a key --
    refused = []
    refused.append(mia.sign(access(cid, size, node_id, purpose="ai_inference")))
    grant = ada.send(LicenseGrant(asset=cid, grantee=leo.did, purposes=("ai_training",), expires=0, max_accesses=0))
    nodes[0].wait_final(grant)
    nodes[0].wait_final(ada.send(LicenseRevoke(license=bytes.fromhex(grant))))
    refused.append(leo.sign(access(cid, size, node_id)))
    soon = int(time.time() * 1000) + 600
    nodes[0].wait_final(ada.send(LicenseGrant(asset=cid, grantee=leo.did, purposes=("data_mining", "ai_training"), expires=soon, max_accesses=0)))
    wait_until(lambda: nodes[0].get("/v1/blocks/head")["ts"] > soon, what="block time past the grant's expiry")
    refused.append(leo.sign(access(cid, size, node_id), nonce=leo.nonce))
    for raw in refused:
        with pytest.raises(RpcError) as caught:
            nodes[1].submit(raw)
        assert caught.value.status == 409, caught.value
    mia.nonce -= 1  # the refused access did not use its nonce
    leo.nonce -= 1

    # --- the nonce race: one nonce, two accesses, two authorities at once --------------------
    first = mia.sign(access(cid, size, node_id))
    second = mia.sign(access(cid, size, node_id, purpose="data_mining"), nonce=mia.nonce)
    ids = []
    senders = [threading.Thread(target=lambda n=n, raw=raw: ids.append(nodes[n].submit(raw)["id"])) for n, raw in [(0, first), (3, second)]]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    winner = wait_until(
        lambda: next((i for i in ids if all(event_status(n, i) == "final" for n in nodes)), None), timeout=30, what="one access final"
    )
    loser = next(i for i in ids if i != winner)
    wait_until(lambda: len(releases_of(nodes[1], winner)) == 4, what="the winner's releases")
    after = nodes[0].get("/v1/status")["head_height"] + 3
    for node in nodes:
        node.wait_for_height(after)
        assert event_status(node, loser) != "final"
        assert releases_of(node, loser) == []
