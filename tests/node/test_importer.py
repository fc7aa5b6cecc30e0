"""BlockImporter in process: extending, side branches, reorgs on the fork-point state, refusals, evidence.

Four authorities A0..A3; AUTHORITIES[h % 4] is in turn at height h (difficulty 2), any
other authority signs out of turn (difficulty 1). Fork choice: total difficulty, then the
lower height, then (height - proposer index) % 4 larger, then the lower hash.
"""

from __future__ import annotations

import pytest

from node.chain.importer import EXTENDED, KNOWN, REORG, SIDE, UnknownParent
from node.chain.ledger import HeadChange
from node.chain.mempool import PENDING
from node.chain.reexecute import verify_stores
from protocol.errors import BlockRule, InvalidBlock
from dataclasses import replace

from node.chain.vote_pool import VoteOutcome
from protocol.blocks import Block, sign_header
from protocol.evidence import decode_equivocation, decode_vote_evidence
from protocol.votes import justification_from_votes
from tests.storage.chain_helpers import key, register_participant

from .consensus_helpers import AUTHORITIES, GENESIS, Forge, Node, checkpoint, votes

A0, A1, A2, A3 = AUTHORITIES
ALICE, BOB, CAROL, DAVE = (key(name) for name in ("alice", "bob", "carol", "dave"))


def reg(user, name: str | None = None):
    return register_participant(user, 1, name)


def assert_head(node: Node, block) -> None:
    assert node.ledger.head.hash == block.hash
    assert node.chain.head().hash == block.hash


def assert_reexecutes(node: Node, forge: Forge, head) -> None:
    """The stored chain passes `verify` and its state is the forge's re-execution of the head's branch."""
    report = verify_stores(node.stores, GENESIS, now_ms=node.ledger.head.ts)  # no block is newer than the head
    assert report.ok, report.problems
    assert node.state() == forge.state(head)


def two_branches(forge: Forge):
    """Canonical A1 (A1 in turn, events) - A2 (A3 out of turn): total difficulty 3.

    Branch C from genesis: C1 (A0 out of turn, TD 1, re-includes Alice's registration),
    C2 (A2 in turn, TD 3: ties A2 in difficulty and height and loses on recency),
    C3 (A3 in turn, TD 5: heavier).
    """
    a1 = forge.block(None, A1, [reg(ALICE, "alice"), reg(BOB, "bob")])
    a2 = forge.block(a1, A3, [reg(CAROL, "carol")])
    c1 = forge.block(None, A0, [reg(ALICE, "alice")])
    c2 = forge.block(c1, A2)
    c3 = forge.block(c2, A3, [reg(DAVE, "dave")])
    return (a1, a2), (c1, c2, c3)


# --- the head ----------------------------------------------------------------------------


def test_block_on_the_head_extends_it(node, forge):
    b1 = forge.block(None, A1, [reg(ALICE)])
    assert node.importer.import_block(b1) == EXTENDED
    assert_head(node, b1)
    assert node.ledger.head_difficulty == 2
    assert node.changes == [HeadChange(applied=(b1,))]
    assert_reexecutes(node, forge, b1)


def test_a_block_imported_again_is_known(node, forge):
    b1 = forge.block(None, A1)
    node.importer.import_block(b1)
    assert node.importer.import_block(b1) == KNOWN
    assert len(node.changes) == 1


def test_block_on_an_unknown_parent_asks_for_the_branch(node, forge):
    b1, b2 = forge.chain(None, A1, A2)
    with pytest.raises(UnknownParent, match="does not have"):
        node.importer.import_block(b2)
    assert node.ledger.head.height == 0 and node.chain.block_meta(b2.hash) is None
    # Not held against the block: once its parent is in, it imports.
    assert node.import_all(b1, b2) == [EXTENDED, EXTENDED]


def test_an_invalid_block_on_the_head_is_refused_and_remembered(node, forge):
    bad = forge.block(None, A1, state_root=b"\x01" * 32)
    with pytest.raises(InvalidBlock, match="state root") as refused:
        node.importer.import_block(bad)
    assert refused.value.rule == BlockRule.STATE_ROOT
    assert node.ledger.head.height == 0 and node.changes == []
    with pytest.raises(InvalidBlock, match="refused before") as again:
        node.importer.import_block(bad)
    assert again.value.rule == BlockRule.STATE_ROOT


# --- side branches and reorgs ---------------------------------------------------------------


def test_a_lighter_branch_is_kept_aside(node, forge):
    a1, a2 = forge.chain(None, A1, A2)  # TD 4
    c1 = forge.block(None, A0, [reg(ALICE)])  # TD 1
    c2 = forge.block(c1, A3)  # TD 2
    node.import_all(a1, a2)
    state = node.state()
    assert node.import_all(c1, c2) == [SIDE, SIDE]
    assert_head(node, a2)
    assert node.state() == state
    assert node.chain.block_meta(c2.hash).total_difficulty == 2
    assert not node.chain.has_event(c1.events[0].id)
    assert len(node.changes) == 2


def test_a_heavier_branch_is_switched_to(node, forge):
    (a1, a2), (c1, c2, c3) = two_branches(forge)
    assert node.import_all(a1, a2, c1, c2) == [EXTENDED, EXTENDED, SIDE, SIDE]
    assert_head(node, a2)
    assert node.importer.import_block(c3) == REORG
    assert_head(node, c3)
    assert node.ledger.head_difficulty == 5
    assert node.changes[-1] == HeadChange(applied=(c1, c2, c3), reverted=(a2, a1))
    assert node.ledger.recent_proposers()[:3] == [A3.did, A2.did, A0.did]
    assert_reexecutes(node, forge, c3)
    # Signing blocks makes nothing final: only votes do.
    assert node.ledger.finalized.height == 0


def test_reorg_returns_dropped_events_to_the_mempool(node, forge):
    (a1, a2), (c1, c2, c3) = two_branches(forge)
    node.import_all(a1, a2, c1, c2, c3)
    alice, bob = a1.events
    (carol,) = a2.events
    assert node.mempool.status(bob.id) == PENDING
    assert node.mempool.status(carol.id) == PENDING
    assert node.mempool.status(alice.id) is None  # the new branch carries it
    assert node.mempool.ready_count == 2


def test_a_branch_with_an_invalid_block_is_refused_whole(node, forge):
    a1 = forge.block(None, A1, [reg(ALICE)])
    a2 = forge.block(a1, A3)
    c1 = forge.block(None, A0)
    c2 = forge.block(c1, A2, [reg(BOB)], state_root=b"\x02" * 32)
    c3 = forge.block(c2, A3)
    c4 = forge.block(c3, A0)
    assert node.import_all(a1, a2, c1, c2) == [EXTENDED, EXTENDED, SIDE, SIDE]
    state, changes = node.state(), list(node.changes)
    with pytest.raises(InvalidBlock, match="refused at block 2: .*state root") as refused:
        node.importer.import_block(c3)
    assert refused.value.rule == BlockRule.STATE_ROOT
    assert_head(node, a2)
    assert node.state() == state and node.changes == changes
    assert_reexecutes(node, forge, a2)
    with pytest.raises(InvalidBlock, match="parent was refused") as orphan:
        node.importer.import_block(c4)
    assert orphan.value.rule == BlockRule.PARENT
    with pytest.raises(InvalidBlock, match="refused before"):
        node.importer.import_block(c3)
    assert node.importer.import_block(c1) == KNOWN  # the valid part of the branch is not blamed
    assert_head(node, a2)


def test_a_block_at_or_below_the_final_height_is_refused(node, forge):
    blocks = forge.chain(None, A1, A2, A3)
    node.import_all(*blocks)
    assert node.ledger.finalized.height == 0  # three distinct signers no longer make anything final
    finalize_first(node, blocks)
    assert node.ledger.finalized.height == 1
    fork = forge.block(None, A0)
    with pytest.raises(InvalidBlock, match="forks below the final block 1"):
        node.importer.import_block(fork)
    assert node.chain.block_meta(fork.hash) is None
    assert_head(node, blocks[-1])


def test_a_heavier_branch_forking_below_the_final_block_is_refused(node, forge):
    a1 = forge.block(None, A1)
    a2 = forge.block(a1, A3)  # TD 3
    d1 = forge.block(None, A0)  # TD 1
    d2 = forge.block(d1, A2)  # TD 3, loses the tie to A2
    a3 = forge.block(a2, A0)  # TD 4
    d3 = forge.block(d2, A3)  # TD 5, but its branch forks at the genesis
    assert node.import_all(a1, a2, d1, d2, a3) == [EXTENDED, EXTENDED, SIDE, SIDE, EXTENDED]
    finalize_first(node, [a1, a2])
    assert node.ledger.finalized.height == 1
    # The heavier branch holds no justified block, so fork choice never reaches the finality
    # check (which would refuse it: "would revert final block 1").
    assert node.importer.import_block(d3) == SIDE
    assert_head(node, a3)
    assert_reexecutes(node, forge, a3)


def finalize_first(node: Node, blocks) -> None:
    """Three of four authorities vote genesis -> blocks[0] and blocks[0] -> blocks[1]: blocks[0] is final."""
    for vote in votes(None, blocks[0], AUTHORITIES[:3]) + votes(blocks[0], blocks[1], AUTHORITIES[:3]):
        node.votes.add(vote)


# --- vote finality ------------------------------------------------------------------------------


def test_gossiped_votes_justify_and_finalize_and_listeners_hear_it(node, forge):
    b1, b2, b3 = forge.chain(None, A1, A2, A3)
    node.import_all(b1, b2, b3)
    heard = []
    node.ledger.add_finality_listener(heard.append)
    for vote in votes(None, b1, AUTHORITIES[:2]):
        assert node.votes.add(vote) is VoteOutcome.COUNTED
    assert node.ledger.justified_on(b3.hash, 3).height == 0  # two of four is no quorum
    node.votes.add(votes(None, b1, AUTHORITIES[2:3])[0])
    assert node.ledger.justified_on(b3.hash, 3) == checkpoint(b1)
    assert node.ledger.finalized.height == 0 and not heard
    for vote in votes(b1, b2, AUTHORITIES[1:]):
        node.votes.add(vote)
    assert node.ledger.finalized.hash == b1.hash
    assert [(change.previous.height, change.final.height) for change in heard] == [(0, 1)]
    assert node.chain.finalized().hash == b1.hash  # stored
    assert node.votes.add(votes(b1, b2, AUTHORITIES[1:2])[0]) is VoteOutcome.DUPLICATE
    assert node.votes.add(votes(None, b1, AUTHORITIES[3:])[0]) is VoteOutcome.STALE


def test_a_vote_for_an_unknown_block_is_held_until_it_arrives(node, forge):
    b1, b2 = forge.chain(None, A1, A2)
    for vote in votes(None, b1, AUTHORITIES[:3]) + votes(b1, b2, AUTHORITIES[:3]):
        assert node.votes.add(vote) is VoteOutcome.HELD
    node.import_all(b1, b2)
    assert node.votes.held_count == 0
    assert node.ledger.finalized.hash == b1.hash


def test_votes_by_non_authorities_count_for_nothing(node, forge):
    (b1,) = forge.chain(None, A1)
    node.import_all(b1)
    outsiders = [key(f"outsider-{n}") for n in range(3)]
    assert {node.votes.add(vote) for vote in votes(None, b1, outsiders)} == {VoteOutcome.STALE}
    assert node.ledger.justified_on(b1.hash, 1).height == 0


def test_a_double_vote_is_kept_as_evidence(node, forge):
    a1 = forge.block(None, A1)
    c1 = forge.block(None, A0)
    node.import_all(a1, c1)
    node.votes.add(votes(None, a1, [A2])[0])
    node.votes.add(votes(None, c1, [A2])[0])
    assert len(node.vote_evidence) == 1 and node.vote_evidence[0].voter == A2.did
    assert node.chain.has_evidence_against(A2.did) and not node.chain.has_evidence_against(A1.did)
    assert decode_vote_evidence(node.chain.vote_evidence()[0]) == node.vote_evidence[0]


def test_a_double_vote_for_a_block_nobody_has_is_evidence_all_the_same(node, forge):
    a1 = forge.block(None, A1)
    node.import_all(a1)
    node.votes.add(votes(None, a1, [A2])[0])
    phantom = forge.block(None, A0)  # never imported here
    assert node.votes.add(votes(None, phantom, [A2])[0]) is VoteOutcome.HELD
    assert [evidence.voter for evidence in node.vote_evidence] == [A2.did]


def test_fork_choice_keeps_the_branch_with_the_justified_block(node, forge):
    a1 = forge.block(None, A1)  # in turn: TD 2
    c1 = forge.block(None, A0)  # TD 1
    c2 = forge.block(c1, A2)  # TD 3: heavier than a1 alone
    node.import_all(a1)
    for vote in votes(None, a1, AUTHORITIES[1:]):
        node.votes.add(vote)
    assert node.import_all(c1, c2) == [SIDE, SIDE]  # a1 is justified; c2's branch holds nothing justified
    assert_head(node, a1)


def test_votes_justifying_a_side_block_switch_the_node_to_its_branch(node, forge):
    a1 = forge.block(None, A1)  # in turn: TD 2
    c1 = forge.block(None, A0)  # TD 1: kept on a side branch
    assert node.import_all(a1, c1) == [EXTENDED, SIDE]
    for vote in votes(None, c1, AUTHORITIES[1:]):
        node.votes.add(vote)
    assert_head(node, c1)
    assert node.changes[-1] == HeadChange(applied=(c1,), reverted=(a1,))


def test_justifications_in_headers_finalize_without_gossip(node, forge):
    b1 = forge.block(None, A1)
    b2 = forge.block(b1, A2)
    b3 = forge.block(b2, A3, justifications=(justification_from_votes(votes(None, b1, AUTHORITIES[:3])),))
    b4 = forge.block(b3, A0, justifications=(justification_from_votes(votes(b1, b2, AUTHORITIES[:3])),))
    node.import_all(b1, b2, b3)
    assert node.chain.block_finality(b3.hash).finality.justified == checkpoint(b1)
    node.import_all(b4)
    assert node.chain.block_finality(b4.hash).finality == forge.finality(b4)
    assert node.ledger.finalized.hash == b1.hash
    assert_reexecutes(node, forge, b4)


def test_a_header_with_a_bad_justification_is_refused(node, forge):
    b1 = forge.block(None, A1)
    short = justification_from_votes(votes(None, b1, AUTHORITIES[:2]))
    b2 = forge.block(b1, A2)
    bad = Block(sign_header(A2, replace(b2.header, justifications=(short,))), b2.events)
    node.import_all(b1)
    with pytest.raises(InvalidBlock, match="a quorum of 4 authorities is 3") as exc:
        node.importer.import_block(bad)
    assert exc.value.rule == BlockRule.JUSTIFICATION


def test_the_producer_side_pending_justifications_chain_from_the_headers(node, forge):
    b1, b2 = forge.chain(None, A1, A2)
    node.import_all(b1, b2)
    for vote in votes(None, b1, AUTHORITIES[:3]) + votes(b1, b2, AUTHORITIES[:3]):
        node.votes.add(vote)
    pending = node.ledger.pending_justifications()
    assert [(j.source_height, j.target_height) for j in pending] == [(0, 1), (1, 2)]


def test_a_quorum_from_an_older_justified_block_is_still_carried(node, forge):
    # The headers carry genesis -> b1, but the votes that reached a quorum are genesis -> b2
    # (voters who missed b1's votes): b2 must still be justifiable from the genesis, or those
    # votes are stranded and finality stops (the simulation found this).
    b1, b2 = forge.chain(None, A1, A2)
    b3 = forge.block(b2, A3, justifications=(justification_from_votes(votes(None, b1, AUTHORITIES[:3])),))
    node.import_all(b1, b2, b3)
    for vote in votes(None, b2, AUTHORITIES[:3]):
        node.votes.add(vote)
    pending = node.ledger.pending_justifications()
    assert [(j.source_height, j.target_height) for j in pending] == [(0, 2)]
    b4 = forge.block(b3, A0, justifications=pending)
    assert node.import_all(b4) == [EXTENDED]
    assert node.ledger.head_finality().justified == checkpoint(b2)


# --- equivocation -----------------------------------------------------------------------------


def test_two_blocks_by_one_authority_at_one_height_are_evidence(node, forge):
    a1, a2 = forge.chain(None, A1, A2)  # TD 4
    c1 = forge.block(None, A0)  # TD 1
    x2 = forge.block(c1, A2)  # A2 signs height 2 again: TD 3, a side block
    y2 = forge.block(c1, A2, ts=c1.header.ts + GENESIS.block_period_ms + 1)
    assert node.import_all(a1, a2, c1, x2) == [EXTENDED, EXTENDED, SIDE, SIDE]
    assert len(node.evidence) == 1
    evidence = node.evidence[0]
    assert (evidence.proposer, evidence.height) == (A2.did, 2)
    assert {evidence.first.hash, evidence.second.hash} == {a2.hash, x2.hash}
    (stored,) = node.chain.evidence()
    assert decode_equivocation(stored) == evidence
    # The same block again, a third block at that height, or the same proof: nothing new.
    assert node.import_all(x2, y2) == [KNOWN, SIDE]
    assert node.importer.record_evidence(evidence) is False
    assert len(node.evidence) == 1 and len(node.chain.evidence()) == 1


# --- ties: every node picks the same head whatever the order (EIP-3436) ---------------------------


def tie_by_recency(forge):
    # Height 1, TD 1 each: (1 - 0) % 4 = 1 for A0, (1 - 2) % 4 = 3 for A2, so A2's wins,
    # even with the higher hash (a later timestamp until it has one).
    x = forge.block(None, A0)
    y = forge.block(None, A2)
    while y.hash < x.hash:
        y = forge.block(None, A2, ts=y.header.ts + 1)
    return [x], [y], y


def tie_by_height(forge):
    # TD 2 each: one in-turn block beats two out-of-turn ones.
    x = forge.block(None, A1)
    y = forge.chain(None, A0, A3)
    return [x], y, x


def tie_by_hash(forge):
    # The same authority twice at one height (equivocation): the lower hash wins.
    x = forge.block(None, A0)
    y = forge.block(None, A0, ts=x.header.ts + 1)
    return [x], [y], min(x, y, key=lambda block: block.hash)


@pytest.mark.parametrize("case", [tie_by_recency, tie_by_height, tie_by_hash])
def test_an_equal_difficulty_tie_is_resolved_alike_in_either_order(start, forge, case):
    first, second, winner = case(forge)
    one, two = start("one"), start("two")
    one.import_all(*first, *second)
    two.import_all(*second, *first)
    assert_head(one, winner)
    assert_head(two, winner)
    assert one.state() == two.state() == forge.state(winner)


def test_a_block_breaking_a_header_rule_is_refused_naming_the_rule(node, forge):
    b1 = forge.block(None, A1)
    again = forge.block(b1, A1)  # four authorities: A1 may not sign two blocks in a row
    node.import_all(b1)
    with pytest.raises(InvalidBlock, match="may not sign block 2") as refused:
        node.importer.import_block(again)
    assert refused.value.rule == BlockRule.SIGNING_LIMIT
    assert_head(node, b1)
