"""Shares follow the authority set: a warning when fewer than k holders remain, then a rights holder's reshare.

Three authorities hold an asset's key 2-of-3. Two are voted out, one after the other:
with one share holder left among the authorities, every node's status names the asset
(and logs it). Ada, its rights holder, runs ``audiera asset reshare``: the new custody
gives the one remaining authority the whole key (1-of-1), the warning goes, and a new
access gets its key from the new custody. Someone who is not a rights holder cannot
reshare.
"""

from __future__ import annotations

import pytest

from node.files.node_keys import read_key_file
from protocol.events import Access, AssetReshare, AuthorityVote, ParticipantRegister
from protocol.key_custody import open_sealed, recover_key
from protocol.releases import decode_release
from protocol.sealing import open_chunks

from .framework import RpcError, wait_final_everywhere, wait_for_peers, wait_until
from .helpers import Client, make_wav
from .test_key_release import custody_of, releases_of
from .test_market_story import Cli

pytestmark = pytest.mark.slow


def test_a_warning_when_custody_falls_below_k_and_a_reshare_restores_it(start_network, tmp_path):
    nodes = start_network(3, authorities=3, block_period_ms=300)
    for node in nodes:
        wait_for_peers(node, 2)
    cli = Cli(tmp_path / "home")
    cli.url = nodes[2].url
    ada_did = cli.json("key", "new", "ada")["did"]
    cli.json("register", "--name", "Ada", "--roles", "creator", key="ada")
    mia = Client(nodes[2])
    authority_keys = [read_key_file(tmp_path / "net" / f"node{i}" / "authority.key") for i in range(3)]
    voters = [Client(nodes[i], key) for i, key in enumerate(authority_keys)]
    for person, name in [(mia, "Mia"), *((voter, f"Authority {i}") for i, voter in enumerate(voters))]:
        nodes[2].wait_final(person.send(ParticipantRegister(name, ("consumer",))))

    source = tmp_path / "tone.wav"
    source.write_bytes(make_wav(0.5, seed=9))
    cid = cli.json("upload", str(source), "--title", "Tone", "--allow", "data_mining", key="ada")["asset"]
    assert custody_of(nodes[0], cid).threshold == 2
    assert nodes[0].get("/v1/status")["custody_at_risk"] == []

    # --- two of three authorities voted out: one share holder left, fewer than k = 2 --------
    a0, a1, a2 = (key.did for key in authority_keys)
    for voter in voters[1:]:
        nodes[2].wait_final(voter.send(AuthorityVote(candidate=a0, add=False)))
    wait_until(lambda: nodes[2].get("/v1/authorities")["authorities"] == [a1, a2], what="node0 voted out")
    for voter in voters[1:]:
        nodes[2].wait_final(voter.send(AuthorityVote(candidate=a1, add=False)))
    wait_until(lambda: nodes[2].get("/v1/authorities")["authorities"] == [a2], what="node1 voted out")
    warned = wait_until(lambda: nodes[2].get("/v1/status")["custody_at_risk"] or None, what="the custody warning")
    assert warned == [{"asset": cid, "share_holders_left": 1, "threshold": 2}]
    wait_until(lambda: "audiera asset reshare" in nodes[2].log_path.read_text(), what="the warning in the log")

    # --- only a rights holder reshares; then the one authority holds the whole key ----------
    stranger = custody_of(nodes[2], cid)
    with pytest.raises(RpcError) as caught:
        nodes[2].submit(mia.sign(AssetReshare(asset=cid, custody=stranger)))
    assert caught.value.status == 409 and "only a rights holder" in caught.value.message
    mia.nonce -= 1
    reshared = cli.json("asset", "reshare", cid, key="ada")
    assert reshared["threshold"] == 1 and reshared["authorities"] == [a2]
    new = custody_of(nodes[0], cid)
    assert new.share_holders == (a2,) and new.copy_for(ada_did) is not None
    wait_until(lambda: nodes[2].get("/v1/status")["custody_at_risk"] == [], what="the warning cleared")

    # --- a new access gets its key from the new custody -------------------------------------
    size = nodes[2].get(f"/v1/assets/{cid}?limit=1")["asset"]["size"]
    node_id = nodes[2].get("/v1/status")["node_id"]
    access = mia.send(Access(asset=cid, purpose="data_mining", model=None, app=None, node=node_id, bytes=size, max_price=0))
    wait_final_everywhere(nodes, access)
    (item,) = wait_until(lambda: releases_of(nodes[2], access) or None, what="the release from the new custody")
    release = decode_release(bytes.fromhex(item["release"]))
    assert release.releaser == a2 and release.index == 1
    key = recover_key(cid, new, {1: open_sealed(mia.key, release.sealed_share)})
    with nodes[2].rpc.open_stream("GET", f"/v1/content/{cid}") as download:
        assert b"".join(open_chunks(key, cid, download.pieces())) == source.read_bytes()
    out = tmp_path / "ada-copy.wav"
    cli.json("asset", "open", cid, "-o", str(out), key="ada")  # the holder's new copy opens it too
    assert out.read_bytes() == source.read_bytes()
