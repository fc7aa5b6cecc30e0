"""The vote pool: counted votes outlive a restart, and the votes behind a block for a peer."""

from __future__ import annotations

from node.chain.vote_pool import VoteOutcome
from storage.votes import VoteStore

from .consensus_helpers import AUTHORITIES, checkpoint, start_node, votes

A1, A2, A3, A4 = AUTHORITIES


def test_a_restart_still_knows_what_gossiped_votes_justified(tmp_path, clock, forge):
    b1, b2, b3 = forge.chain(None, A1, A2, A3)
    node = start_node(tmp_path / "node", clock)
    node.import_all(b1, b2, b3)
    for vote in votes(None, b2, AUTHORITIES[:3]):  # b2 justified by gossip only: no header carries it
        assert node.votes.add(vote) is VoteOutcome.COUNTED
    assert node.ledger.justified_on(b3.hash, 3) == checkpoint(b2)
    node.stores.close()

    again = start_node(tmp_path / "node", clock)
    assert again.ledger.justified_on(b3.hash, 3) == checkpoint(b2)
    assert again.votes.votes_for(b2.hash, 2) == sorted(votes(None, b2, AUTHORITIES[:3]), key=lambda v: v.voter)
    again.stores.close()


def test_kept_votes_are_forgotten_once_final(tmp_path, clock, forge):
    b1, b2, b3 = forge.chain(None, A1, A2, A3)
    node = start_node(tmp_path / "node", clock)
    node.import_all(b1, b2, b3)
    for vote in votes(None, b1, AUTHORITIES[:3]) + votes(b1, b2, AUTHORITIES[:2]):
        node.votes.add(vote)
    store = VoteStore(node.stores.db)
    assert store.count() == 5
    node.votes.add(votes(b1, b2, AUTHORITIES[2:3])[0])  # b1 final
    assert node.ledger.finalized.hash == b1.hash
    assert [vote.target_height for vote in store.votes_above(0)] == [2, 2, 2]
    node.stores.close()


def test_votes_behind_a_block_walk_its_chain_above_the_asker_s_final_block(tmp_path, clock, forge):
    b1, b2, b3 = forge.chain(None, A1, A2, A3)
    node = start_node(tmp_path / "node", clock)
    node.import_all(b1, b2, b3)
    into_b1 = votes(None, b1, AUTHORITIES[:2])
    into_b3 = votes(b1, b3, AUTHORITIES[:2])
    for vote in into_b1 + into_b3:
        node.votes.add(vote)
    behind = node.votes.votes_behind(checkpoint(b3), above_height=0, limit=100)
    assert sorted(behind, key=lambda v: (v.target_height, v.voter)) == sorted(
        into_b1 + into_b3, key=lambda v: (v.target_height, v.voter)
    )
    assert [vote.target_height for vote in behind] == [1, 1, 3, 3]  # lowest first: a source before its target
    assert {vote.target_height for vote in node.votes.votes_behind(checkpoint(b3), above_height=1, limit=100)} == {3}
    assert node.votes.votes_behind(checkpoint(forge.block(b3, A4)), above_height=0, limit=100) == []  # a block we lack
    assert [vote.target_height for vote in node.votes.votes_behind(checkpoint(b3), above_height=0, limit=3)] == [1, 3, 3]
    node.stores.close()
