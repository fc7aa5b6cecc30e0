"""Faults an authority (or an impostor) can commit, and the authority set changing by vote.

Forged and rule-breaking blocks are refused with the rule they break, equivocation
leaves evidence on every node, and votes add and remove authorities on a running network.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from node.files.node_keys import write_key_file
from protocol.blocks import Block
from protocol.consensus import BranchHead, fork_choice_key
from protocol.events import AuthorityVote, ParticipantRegister, sign_event
from protocol.keys import SigningKey

from .blocks import LocalChain, as_parent, authority_key, empty_block, genesis_parent, post_block
from .framework import NodeProcess, RpcError, sync_heads, wait_final_everywhere, wait_for_peers, wait_until
from .helpers import Client

pytestmark = pytest.mark.slow

PERIOD_MS = 500


def refusal(node: NodeProcess, block: Block) -> dict[str, Any]:
    """POST ``block``, which must be refused: the error body ({code, message})."""
    with pytest.raises(RpcError) as caught:
        post_block(node, block)
    assert caught.value.status == 400, caught.value
    return {"code": caught.value.code, "message": caught.value.message}


def followers_with_keys(start_network, tmp_path: Path) -> tuple[list[NodeProcess], list[str], dict[str, SigningKey]]:
    """Six scaffolded nodes, four authority keys the test holds; only the two followers run."""
    network = start_network(6, authorities=4, block_period_ms=PERIOD_MS, running=0)
    followers = network[4:]
    for node in followers:
        node.start()
    for node in followers:
        wait_for_peers(node, 1)
    authorities = followers[0].get("/v1/status")["authorities"]
    key_of = {key.did: key for key in (authority_key(tmp_path / "net", index) for index in range(4))}
    assert set(key_of) == set(authorities)
    return followers, authorities, key_of


def test_forged_and_rule_breaking_blocks_are_refused_naming_the_rule(start_network, tmp_path):
    followers, authorities, key_of = followers_with_keys(start_network, tmp_path)
    a0, a1, a2, a3 = (key_of[did] for did in authorities)  # in turn at height h: authorities[h % 4]
    target = followers[0]

    first = empty_block(a1, genesis_parent(target), in_turn=True, period_ms=PERIOD_MS)
    assert post_block(target, first)["outcome"] == "extended"
    sync_heads(followers, min_height=1)
    parent = target.get("/v1/blocks/1")

    # (a) The header names a2 as its proposer, but a3 signed it.
    forged = empty_block(a3, parent, in_turn=True, period_ms=PERIOD_MS, proposer=a2.did)
    error = refusal(target, forged)
    assert error["code"] == "bad_signature" and "does not verify" in error["message"], error

    # (b) Signed by a key that is not an authority.
    stranger = SigningKey.generate()
    error = refusal(target, empty_block(stranger, parent, in_turn=False, period_ms=PERIOD_MS))
    assert error["code"] == "invalid_block" and "not an authority" in error["message"], error
    assert stranger.did in error["message"]

    # (c) a1 signed block 1 and signs block 2: with 4 authorities one may sign at most one
    # of any 3 consecutive blocks.
    error = refusal(target, empty_block(a1, parent, in_turn=False, period_ms=PERIOD_MS))
    assert error["code"] == "invalid_block", error
    assert "may not sign block 2" in error["message"] and "last 2 blocks" in error["message"], error

    # (d) In turn (a2 at height 2) but claiming the out-of-turn difficulty, and the reverse.
    error = refusal(target, empty_block(a2, parent, in_turn=True, difficulty=1, period_ms=PERIOD_MS))
    assert "signed in turn but has difficulty 1, not 2" in error["message"], error
    error = refusal(target, empty_block(a0, parent, in_turn=False, difficulty=2, period_ms=PERIOD_MS))
    assert "signed out of turn but has difficulty 2, not 1" in error["message"], error

    # (e) A state root other than the one its (empty) content leads to.
    error = refusal(target, empty_block(a2, parent, in_turn=True, state_root=bytes(32), period_ms=PERIOD_MS))
    assert "state root" in error["message"], error

    # (f) Timestamps: sooner than one period after the parent, or too far ahead of the clock.
    error = refusal(target, empty_block(a2, parent, in_turn=True, ts=parent["ts"] + PERIOD_MS - 1, period_ms=PERIOD_MS))
    assert "less than one block period after its parent" in error["message"], error
    future = int(time.time() * 1000) + 60_000
    error = refusal(target, empty_block(a2, parent, in_turn=True, ts=future, period_ms=PERIOD_MS))
    assert "in the future" in error["message"], error

    # (g) A block whose parent the node does not have is not the sender's fault: 409.
    orphan_parent = {**parent, "height": 2, "hash": "ab" * 32}
    with pytest.raises(RpcError) as caught:
        post_block(target, empty_block(a3, orphan_parent, in_turn=True, period_ms=PERIOD_MS))
    assert caught.value.status == 409 and caught.value.code == "unknown_parent"

    # A refused block stays refused, and says why.
    error = refusal(target, forged)
    assert error["code"] == "bad_signature", error
    error = refusal(target, empty_block(a2, parent, in_turn=True, difficulty=1, period_ms=PERIOD_MS))
    assert "refused before" in error["message"] and "difficulty" in error["message"], error

    # Nothing moved: the followers agree on block 1, nobody is accused, and a valid block is taken.
    assert sync_heads(followers, min_height=1) == 1
    assert {node.head_hash() for node in followers} == {first.hash.hex()}
    second = empty_block(a2, parent, in_turn=True, period_ms=PERIOD_MS)
    assert post_block(target, second)["outcome"] == "extended"
    wait_until(lambda: all(node.head_hash() == second.hash.hex() for node in followers), what="both followers on block 2")

    # A bad block can travel by gossip while it sits on a side branch (only cheap checks
    # run there): a0's block 2' with a wrong state root is kept aside and relayed. Making
    # its branch the heavier one (a3 in turn at 3') makes the nodes validate it in full,
    # and they refuse the branch instead of switching to it.
    bad_side = empty_block(a0, parent, in_turn=False, state_root=bytes(32), period_ms=PERIOD_MS)
    assert post_block(target, bad_side)["outcome"] == "side"
    other = followers[1]
    wait_until(lambda: other.get(f"/v1/blocks/{bad_side.hash.hex()}"), what="the side block gossiped to the other follower")
    heavier = empty_block(a3, as_parent(bad_side), in_turn=True, period_ms=PERIOD_MS)
    for node in followers:
        error = refusal(node, heavier)
        assert "refused at block 2" in error["message"] and "state root" in error["message"], error
    assert {node.head_hash() for node in followers} == {second.hash.hex()}

    # The chain goes on from block 2 on both (a0 out of turn at 3; a3's height-3 block was refused).
    third = empty_block(a0, followers[1].get("/v1/blocks/2"), in_turn=False, period_ms=PERIOD_MS)
    assert post_block(followers[1], third)["outcome"] == "extended"
    assert sync_heads(followers, min_height=3) == 3
    assert {node.head_hash() for node in followers} == {third.hash.hex()}
    assert all(node.get("/v1/evidence")["evidence"] == [] for node in followers), "no honest authority is accused"
    assert all(node.get("/v1/status")["peers"] for node in followers), "the followers still talk to each other"


def test_equivocation_leaves_evidence_on_every_node_and_the_nodes_agree(start_network, tmp_path):
    followers, authorities, key_of = followers_with_keys(start_network, tmp_path)
    a0, a1, a2, a3 = (key_of[did] for did in authorities)  # in turn at height h: authorities[h % 4]

    first = empty_block(a1, genesis_parent(followers[0]), in_turn=True, period_ms=PERIOD_MS)
    post_block(followers[0], first)
    sync_heads(followers, min_height=1)
    parent = followers[0].get("/v1/blocks/1")

    # a2, in turn at height 2, signs two different blocks (different timestamps) and sends
    # one to each follower.
    left = empty_block(a2, parent, in_turn=True, period_ms=PERIOD_MS)
    right = empty_block(a2, parent, in_turn=True, ts=parent["ts"] + 2 * PERIOD_MS, period_ms=PERIOD_MS)
    assert left.hash != right.hash
    assert post_block(followers[0], left)["outcome"] in ("extended", "known")
    assert post_block(followers[1], right)["outcome"] in ("extended", "side", "reorg")

    def evidence_everywhere() -> bool:
        return all(len(node.get("/v1/evidence")["evidence"]) == 1 for node in followers)

    wait_until(evidence_everywhere, what="equivocation evidence on both followers")
    for node in followers:
        (entry,) = node.get("/v1/evidence")["evidence"]
        assert entry["proposer"] == a2.did and entry["height"] == 2
        assert {header["hash"] for header in entry["headers"]} == {left.hash.hex(), right.hash.hex()}
        assert {header["proposer"] for header in entry["headers"]} == {a2.did}

    # Both blocks are valid: the nodes settle on the same one, as fork choice ranks them.
    winner = max(
        (left, right), key=lambda block: fork_choice_key(BranchHead(4, 2, block.header.proposer, block.hash), authorities)
    )
    wait_until(lambda: all(node.head_hash() == winner.hash.hex() for node in followers), what="both followers on one block 2")

    # Evidence travels by itself: a3 signs block 3 twice and only followers[0] sees the
    # second one, which it refuses (it is dated a minute ahead) but not before keeping the
    # proof; followers[1] learns of the equivocation from the gossiped evidence alone.
    on_winner = as_parent(winner)
    third = empty_block(a3, on_winner, in_turn=True, period_ms=PERIOD_MS)
    assert post_block(followers[0], third)["outcome"] == "extended"
    sync_heads(followers, min_height=3)
    early = empty_block(a3, on_winner, in_turn=True, ts=int(time.time() * 1000) + 60_000, period_ms=PERIOD_MS)
    error = refusal(followers[0], early)
    assert "in the future" in error["message"], error
    wait_until(
        lambda: all(len(node.get("/v1/evidence")["evidence"]) == 2 for node in followers),
        what="the second equivocation's evidence gossiped to the other follower",
    )
    for node in followers:
        proofs = {(entry["proposer"], entry["height"]): entry for entry in node.get("/v1/evidence")["evidence"]}
        assert set(proofs) == {(a2.did, 2), (a3.did, 3)}
        assert {header["hash"] for header in proofs[(a3.did, 3)]["headers"]} == {third.hash.hex(), early.hash.hex()}
    with pytest.raises(RpcError) as caught:
        followers[1].get(f"/v1/blocks/{early.hash.hex()}")
    assert caught.value.status == 404, "the refused block itself went nowhere"

    # The chain moves on and both agree.
    fourth = empty_block(a0, followers[1].get("/v1/blocks/3"), in_turn=True, period_ms=PERIOD_MS)
    assert post_block(followers[1], fourth)["outcome"] == "extended"
    assert sync_heads(followers, min_height=4) == 4
    assert {node.head_hash() for node in followers} == {fourth.hash.hex()}


# --- the authority set changing by vote ----------------------------------------------------


def give_candidate_key(node_dir: Path) -> SigningKey:
    """Write a fresh key into a scaffolded follower's directory and make its config use it."""
    key = SigningKey.generate()
    write_key_file(node_dir / "authority.key", key)
    config = node_dir / "config.toml"
    text = config.read_text()
    assert "authority_key" not in text
    genesis_line = 'genesis = "../genesis.toml"\n'
    assert genesis_line in text
    config.write_text(text.replace(genesis_line, genesis_line + 'authority_key = "authority.key"\n', 1))
    return key


def authority_views(nodes: list[NodeProcess]) -> list[dict[str, Any]]:
    return [node.get("/v1/authorities") for node in nodes]


def headers_from(node: NodeProcess, start: int) -> list[dict[str, Any]]:
    return node.get(f"/v1/headers?from={start}&limit=1000")["headers"]


def included_at(node: NodeProcess, event_id: str) -> int:
    return node.get(f"/v1/events/{event_id}")["block"]["height"]


def test_votes_add_a_running_candidate_and_remove_an_authority(start_network, tmp_path):
    network = start_network(4, authorities=3, block_period_ms=PERIOD_MS, running=0)
    candidate_key = give_candidate_key(tmp_path / "net" / "node3")
    for node in network:
        node.start()
    keys = [authority_key(tmp_path / "net", index) for index in range(3)]
    genesis_set = [key.did for key in keys]
    assert network[0].get("/v1/status")["authorities"] == genesis_set
    assert network[3].get("/v1/status")["authority"] == candidate_key.did
    sync_heads(network, min_height=2)

    # The authorities register as participants (a vote needs a registered author).
    voters = [Client(network[index], key) for index, key in enumerate(keys)]
    registrations = [voter.send(ParticipantRegister(f"authority {index}", ("consumer",))) for index, voter in enumerate(voters)]
    for event_id in registrations:
        wait_final_everywhere(network, event_id)

    # One vote of three is not enough: it stands, and the set is unchanged.
    first_vote = voters[0].send(AuthorityVote(candidate=candidate_key.did, add=True))
    wait_final_everywhere(network, first_vote)
    for view in authority_views(network):
        assert view["authorities"] == genesis_set
        assert view["votes"] == [{"candidate": candidate_key.did, "voter": keys[0].did, "add": True}]
    assert not any(h["proposer"] == candidate_key.did for h in headers_from(network[0], 1))

    # The second (more than half of three) adds the candidate at the end of the order.
    second_vote = voters[1].send(AuthorityVote(candidate=candidate_key.did, add=True))
    wait_final_everywhere(network, second_vote)
    added_at = included_at(network[0], second_vote)
    grown = [*genesis_set, candidate_key.did]
    wait_until(
        lambda: all(view["authorities"] == grown and view["votes"] == [] for view in authority_views(network)),
        what="four authorities on every node",
    )

    # The candidate's node, running since the start, now signs blocks (from the next block on).
    def candidate_signed() -> list[int]:
        return [h["height"] for h in headers_from(network[0], 1) if h["proposer"] == candidate_key.did]

    signed = wait_until(candidate_signed, timeout=60, what="a block signed by the new authority")
    assert min(signed) > added_at
    sync_heads(network, min_height=max(signed))

    # Removing an authority takes three of four votes; the new authority votes too.
    removed = keys[2]
    newcomer = Client(network[3], candidate_key)
    wait_final_everywhere(network, newcomer.send(ParticipantRegister("authority 3", ("consumer",))))
    removal_votes = []
    for voter in (voters[0], voters[1], newcomer):
        removal_votes.append(voter.send(AuthorityVote(candidate=removed.did, add=False)))
        wait_final_everywhere(network, removal_votes[-1])
        if len(removal_votes) == 2:
            assert network[0].get("/v1/authorities")["authorities"] == grown, "two of four votes are not enough"
    removed_at = included_at(network[0], removal_votes[-1])
    remaining = [genesis_set[0], genesis_set[1], candidate_key.did]
    wait_until(
        lambda: all(view["authorities"] == remaining for view in authority_views(network)),
        what="the removal on every node",
    )

    # No block after the removal is signed by the removed key; the others keep the chain going.
    later = removed_at + 8
    sync_heads(network, min_height=later, timeout=60)
    after = headers_from(network[0], removed_at + 1)
    assert len(after) >= 8
    assert removed.did not in {h["proposer"] for h in after}
    assert {h["proposer"] for h in after} <= set(remaining)

    # A block the test signs with the removed key is refused. The removed node no longer
    # signs: cut it off so its head holds still while the test builds on it.
    former = network[2]
    former.set_peering(False)
    wait_until(lambda: former.get("/v1/status")["peers"] == [], what="the removed authority's node cut off")
    head = former.get("/v1/blocks/head")
    error = refusal(former, empty_block(removed, head, in_turn=False, period_ms=PERIOD_MS))
    assert "not an authority" in error["message"] and removed.did in error["message"], error
    former.set_peering(True)

    # Every node agrees on the set and the head.
    height = sync_heads(network, min_height=later + 2, timeout=60)
    views = authority_views(network)
    assert all(view["authorities"] == remaining for view in views)
    assert len({node.get(f"/v1/blocks/{height}")["hash"] for node in network}) == 1
    assert all(node.get("/v1/evidence")["evidence"] == [] for node in network)


def test_a_heavier_branch_that_voted_in_an_authority_is_taken(start_network, tmp_path):
    # Three authorities, the test holds their keys; two followers run. The test keeps two
    # branches of the chain itself (with the node's own ledger code) to sign blocks with events.
    network = start_network(5, authorities=3, block_period_ms=PERIOD_MS, running=0)
    followers = network[3:]
    for node in followers:
        node.start()
    wait_for_peers(followers[0], 1)
    net = tmp_path / "net"
    a0, a1, a2 = (authority_key(net, index) for index in range(3))
    candidate = SigningKey.generate()
    left, right = LocalChain(tmp_path / "left", net / "genesis.toml"), LocalChain(tmp_path / "right", net / "genesis.toml")
    try:
        assert left.authorities == tuple(followers[0].get("/v1/status")["authorities"]) == (a0.did, a1.did, a2.did)
        now = int(time.time() * 1000)
        registrations = [sign_event(key, ParticipantRegister(f"a{i}", ("consumer",)), 1, now) for i, key in enumerate((a0, a1))]
        first = left.sign(a1, registrations)  # in turn at 1
        right.add(first)
        lighter = left.sign(a2)  # in turn at 2: total difficulty 4
        votes = [sign_event(key, AuthorityVote(candidate.did, True), 2, now) for key in (a0, a1)]
        voting = right.sign(a0, votes)  # out of turn at 2; the candidate joins from block 3
        assert len(right.authorities) == 4
        by_newcomer = right.sign(candidate)  # in turn at 3 (3 % 4): total difficulty 2 + 1 + 2 = 5
        assert by_newcomer.header.difficulty == 2

        target = followers[0]
        assert post_block(target, first)["outcome"] == "extended"
        assert post_block(target, lighter)["outcome"] == "extended"
        assert post_block(target, voting)["outcome"] == "side"
        # The heavier branch is valid: every node must switch to it.
        assert post_block(target, by_newcomer)["outcome"] == "reorg"
        wait_until(
            lambda: all(node.head_hash() == by_newcomer.hash.hex() for node in followers),
            what="both followers on the heavier branch",
        )
        assert all(node.get("/v1/authorities")["authorities"] == list(right.authorities) for node in followers)
    finally:
        left.close()
        right.close()
