"""Vote finality on real processes: a lying authority leaves evidence, and finality needs
more than two thirds of the authorities (seven authorities: five finalize, four do not)."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from protocol.keys import SigningKey

from .blocks import authority_key
from .framework import NodeProcess, RpcError, sync_heads, wait_for_peers, wait_until
from .votes import finality, post_vote, signed_vote

pytestmark = pytest.mark.slow

PERIOD_MS = 500


def wait_finalized_past(nodes: list[NodeProcess], height: int, *, timeout: float = 60) -> None:
    wait_until(
        lambda: all(finality(node)[1] > height for node in nodes), timeout=timeout,
        what=f"{[n.name for n in nodes]} to finalize past height {height}",
    )


def test_an_authority_that_double_votes_leaves_evidence_and_the_others_keep_finalizing(start_network, tmp_path):
    network = start_network(4, authorities=4, block_period_ms=PERIOD_MS)
    for node in network:
        wait_for_peers(node, 3)
    wait_finalized_past(network, 2)
    liar = authority_key(tmp_path / "net", 0)
    witness = network[1]
    status = witness.get("/v1/status")
    head = (status["head_height"], status["head_hash"])
    source = (status["justified_height"], status["justified_hash"])
    if source[0] >= head[0]:
        source = (status["finalized_height"], status["finalized_hash"])
    # Two votes at one height for two different blocks: one real, one for a block nobody has.
    honest = signed_vote(liar, source, head)
    double = signed_vote(liar, source, (head[0], hashlib.sha256(b"a block that does not exist").hexdigest()))
    assert post_vote(witness, honest)["outcome"] in ("counted", "duplicate", "stale")
    assert post_vote(witness, double)["outcome"] == "held"

    def evidence_everywhere() -> bool:
        for node in network:
            found = node.get("/v1/evidence")["vote_evidence"]
            if not any(item["voter"] == liar.did and item["offence"] == "double_vote" for item in found):
                return False
        return True

    wait_until(evidence_everywhere, what="the double vote's evidence on every node (gossiped)")
    item = next(e for e in network[3].get("/v1/evidence")["vote_evidence"] if e["voter"] == liar.did)
    assert {vote["target_hash"] for vote in item["votes"]} == {head[1], double.target_hash.hex()}
    assert len(item["encoded"]) > 0 and all(len(vote["sig"]) == 128 for vote in item["votes"])
    assert all(liar.did in node.get("/v1/authorities")["with_evidence"] for node in network)
    assert all(node.get("/v1/authorities")["with_evidence"] == [liar.did] for node in network)
    # The three honest authorities are a quorum of four: finality goes on.
    _, final_now = finality(witness)
    wait_finalized_past(network, final_now + 3)


def test_a_forged_or_outsider_vote_is_refused(start_network, tmp_path):
    network = start_network(2, authorities=2, block_period_ms=PERIOD_MS)
    wait_for_peers(network[0], 1)
    wait_finalized_past(network, 1)
    status = network[0].get("/v1/status")
    head, final = (status["head_height"], status["head_hash"]), (status["finalized_height"], status["finalized_hash"])
    vote = signed_vote(authority_key(tmp_path / "net", 0), final, head)
    forged = replace(vote, sig=bytes(64))
    with pytest.raises(RpcError) as refused:
        post_vote(network[0], forged)
    assert refused.value.status == 400 and refused.value.code == "invalid_vote"
    outsider = signed_vote(SigningKey(b"\x09" * 32), final, head)
    assert post_vote(network[0], outsider)["outcome"] == "stale"


def test_seven_authorities_finalize_with_two_down_stop_with_three_and_resume(start_network):
    network = start_network(7, authorities=7, block_period_ms=PERIOD_MS)
    for node in network:
        wait_for_peers(node, 6, timeout=60)
    wait_finalized_past(network, 2, timeout=90)
    live = network[:5]
    for node in network[5:]:
        assert node.stop() == 0
    _, final_with_five = finality(live[0])
    wait_finalized_past(live, final_with_five + 3, timeout=90)  # five of seven is a quorum

    assert network[4].stop() == 0
    four = network[:4]
    # Let votes in flight settle, then finality must stand still while blocks go on.
    top = max(node.get("/v1/status")["head_height"] for node in four)
    sync_heads(four, min_height=top + 1, timeout=90)
    stalled = max(finality(node)[1] for node in four)
    head_then = max(node.get("/v1/status")["head_height"] for node in four)
    sync_heads(four, min_height=head_then + 6, timeout=120)  # four authorities still make blocks
    assert all(finality(node)[1] == stalled for node in four), "four of seven must not finalize"

    network[4].start()
    wait_finalized_past(network[:5], stalled, timeout=120)
