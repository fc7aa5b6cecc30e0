"""ChainStore.switch_branch (reorgs through undo records) and the block tree beside the canonical chain.

The reference for a reorg is a second, fresh store that commits the genesis and the new
branch directly: after switching, the reorged store must hold exactly what that store
holds, except the entries that keep the reverted blocks in the block tree, namely for
each reverted block ``b/<hash>`` (its body), ``t/<hash>`` (height, parent, total
difficulty) and ``sg/<proposer>\\0<height><hash>`` (who signed it). Those stay so that
fork choice can switch back; every other key (state, canonical index, events, history
indexes, undo records, head, finalized tip, genesis, evidence) must be identical.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from protocol.blocks import Block
from protocol.encoding import encode
from protocol.state import BlockContext, StateOverlay, apply_block
from storage import keys
from storage.chain import AppliedBlock, BlockMeta, ChainStore, ChainTip
from storage.database import open_stores
from storage.errors import StorageError

from .chain_helpers import carried, change_terms, commit, commit_next, switch, next_block, register_asset, register_participant
from .test_chain import (  # noqa: F401  (chain and genesis are fixtures)
    ALICE,
    ASSET_A,
    ASSET_B,
    ASSET_C,
    BOB,
    CAROL,
    assert_state_matches_replay,
    chain,
    genesis,
    snapshot,
    state_snapshot,
)

BRANCH_A = [
    [register_participant(ALICE, 1, "alice"), register_participant(BOB, 1, "bob")],
    [register_asset(ALICE, 2, ASSET_A, co_holder=BOB), register_asset(BOB, 2, ASSET_B)],
    [change_terms(ALICE, 3, ASSET_A), register_participant(CAROL, 1, "carol")],
]
# Branch B per fork height: each re-includes one event of a block it replaces (same bytes, same id).
BRANCH_B = {
    0: [
        [register_participant(ALICE, 1, "alice"), register_participant(CAROL, 1, "carol-b")],
        [register_asset(CAROL, 2, ASSET_C)],
    ],
    1: [
        [register_asset(ALICE, 2, ASSET_A, co_holder=BOB), register_participant(CAROL, 1, "carol-b")],
        [register_asset(CAROL, 2, ASSET_C)],
    ],
}


def commit_a(store: ChainStore, *, finalized_height: int = 0) -> list[Block]:
    return [commit_next(store, events, finalized_height=finalized_height) for events in BRANCH_A]


def commit_existing(store: ChainStore, block: Block, *, finalized_height: int) -> None:
    """Commit an already signed block on the head, computing its result on the head's state."""
    result = apply_block(store, block.events, BlockContext(block.height, block.header.ts), store.head().state_root)
    result = replace(result, finality=carried(store, block.header.parent))
    commit(store, block, result, finalized_height=finalized_height)


@pytest.fixture
def reference(tmp_path, genesis):
    """A fresh store on the same genesis: the new branch committed directly, for comparison."""
    opened = open_stores(tmp_path / "reference")
    opened.chain.init_genesis(genesis)
    yield opened
    opened.close()


def build_branch_b(reference, branch_a: list[Block], fork_height: int, *, finalized_height: int = 0) -> list[AppliedBlock]:
    """Commit A up to the fork and then B on ``reference``; return B's blocks with their results and undo records.

    The reference store's state is the state at the fork point, so each result and each
    undo record ({key: value before the block}) is computed there.
    """
    for block in branch_a[:fork_height]:
        commit_existing(reference.chain, block, finalized_height=0)
    applied = []
    for events in BRANCH_B[fork_height]:
        block, result = next_block(reference.chain, events)
        undo = {k: reference.chain.get(k) for k in result.writes}
        commit(reference.chain, block, result, finalized_height=finalized_height)
        applied.append(AppliedBlock(block, result, undo))
    return applied


def reapply(store: ChainStore, blocks: list[Block], reverted: list[Block]) -> list[AppliedBlock]:
    """Results and undo records for re-applying ``blocks`` after reverting ``reverted`` (oldest first)."""
    state = StateOverlay(store)
    for block in reversed(reverted):  # head first: the oldest block's undo value wins
        state.writes.update(store.undo_writes(block.hash))
    root = store.tip_of(reverted[0].header.parent).state_root
    finality = carried(store, reverted[0].header.parent)  # no block here carries a justification
    applied = []
    for block in blocks:
        result = apply_block(state, block.events, BlockContext(block.height, block.header.ts), root)
        result = replace(result, finality=finality)
        applied.append(AppliedBlock(block, result, {k: state.get(k) for k in result.writes}))
        state = StateOverlay(state)
        state.writes.update(result.writes)
        root = result.state_root
    return applied


def tree_entries(block: Block) -> set[bytes]:
    """The keys that keep ``block`` in the block tree (and nothing else of it), with its
    finality record: it was validated once, and a switch back reads it."""
    return {
        keys.BLOCK + block.hash,
        keys.TREE + block.hash,
        keys.FINALITY + block.hash,
        keys.signed_prefix(block.header.proposer, block.height) + block.hash,
    }


@pytest.mark.parametrize("fork_height", [0, 1])
def test_reorg_leaves_what_committing_the_new_branch_directly_leaves(chain, stores, reference, genesis, fork_height):
    branch_a = commit_a(chain)
    new_final = fork_height + 1
    branch_b = build_branch_b(reference, branch_a, fork_height, finalized_height=new_final)
    reverted = list(reversed(branch_a[fork_height:]))

    tip = switch(chain, reverted, branch_b, finalized_height=new_final)

    last = branch_b[-1].block
    assert tip == ChainTip(last.height, last.hash, last.header.state_root, last.header.ts)
    assert chain.head() == tip == reference.chain.head()
    assert chain.finalized() == reference.chain.finalized()
    assert chain.finalized().hash == branch_b[0].block.hash
    mine, theirs = dict(snapshot(stores.db)), dict(snapshot(reference.db))
    kept = set().union(*(tree_entries(block) for block in reverted))
    assert set(mine) - set(theirs) == kept, "only the reverted blocks' tree entries may remain"
    assert set(theirs) <= set(mine)
    differing = {k for k in theirs if mine[k] != theirs[k]}
    assert differing == set(), sorted(differing)
    assert_state_matches_replay(stores.db, chain, genesis)


@pytest.mark.parametrize("fork_height", [0, 1])
def test_reorg_rewrites_each_index(chain, stores, reference, fork_height):
    branch_a = commit_a(chain)
    branch_b = build_branch_b(reference, branch_a, fork_height)
    reverted = list(reversed(branch_a[fork_height:]))
    new_blocks = [applied.block for applied in branch_b]
    switch(chain, reverted, branch_b, finalized_height=0)

    canonical = [*branch_a[:fork_height], *new_blocks]
    assert [h for _, h in chain.iter_canonical(1, 100)] == [b.hash for b in canonical]
    assert chain.hash_at(len(canonical) + 1) is None  # nothing indexed above the new head
    # Events: the new branch's are indexed where they lie; the reverted blocks' are gone unless re-included.
    for block in canonical:
        for index, event in enumerate(block.events):
            assert (chain.get_event(event.id).block_hash, chain.get_event(event.id).index) == (block.hash, index)
    new_ids = {event.id for block in new_blocks for event in block.events}
    for block in reverted:
        for event in block.events:
            assert chain.has_event(event.id) == (event.id in new_ids)
    assert any(event.id in new_ids for block in reverted for event in block.events), "B re-includes an event of A"
    # History: Carol's entries are B's (her A registration is reverted); asset B, registered in a reverted block, has none.
    assert [(e.height, e.event_id) for e in chain.account_history(CAROL.did)] == [
        (block.height, event.id) for block in new_blocks for event in block.events if event.author == CAROL.did
    ]
    assert chain.asset_history(ASSET_B) == []
    # Undo records exist for canonical blocks only.
    undo = {k[len(keys.UNDO):] for k, _ in stores.db.iterator(prefix=keys.UNDO)}
    assert undo == {block.hash for block in canonical}


def test_reverted_blocks_stay_in_the_tree_but_not_canonical(chain, reference):
    branch_a = commit_a(chain)
    branch_b = build_branch_b(reference, branch_a, 0)
    switch(chain, list(reversed(branch_a)), branch_b, finalized_height=0)
    for block in branch_a:
        assert chain.get_block(block.hash).header == block.header
        assert chain.block_meta(block.hash) == BlockMeta(block.height, block.header.parent, 2 * block.height)
        assert not chain.is_canonical(block.hash, block.height)
        assert chain.signed_at(block.header.proposer, block.height) == sorted(
            h for h in (block.hash, chain.hash_at(block.height)) if h is not None
        )


def test_undo_records_of_reverted_blocks_give_the_fork_point_state(chain, stores, reference):
    branch_a = commit_a(chain)
    commit_existing(reference.chain, branch_a[0], finalized_height=0)
    fork_state = state_snapshot(stores.db)
    for block in reversed(branch_a[1:]):
        for k, previous in chain.undo_writes(block.hash).items():
            if previous is None:
                fork_state.pop(k, None)
            else:
                fork_state[k] = previous
    assert fork_state == state_snapshot(reference.db)


def test_switching_back_restores_the_first_branch(chain, stores, reference):
    branch_a = commit_a(chain)
    before = dict(snapshot(stores.db))
    branch_b = build_branch_b(reference, branch_a, 1)
    switch(chain, list(reversed(branch_a[1:])), branch_b, finalized_height=0)
    # Back to A: each of A's blocks re-applied on the state B's reversal leaves.
    back = reapply(chain, branch_a[1:], [a.block for a in branch_b])
    switch(chain, [a.block for a in reversed(branch_b)], back, finalized_height=0)
    after = dict(snapshot(stores.db))
    kept = set().union(*(tree_entries(a.block) for a in branch_b))
    assert set(after) - set(before) == kept
    assert {k: after[k] for k in before} == before


def test_switch_branch_refuses_to_revert_final_blocks(chain, stores, reference):
    branch_a = commit_a(chain, finalized_height=2)
    branch_b = build_branch_b(reference, branch_a, 1)
    before = snapshot(stores.db)
    with pytest.raises(StorageError, match="would revert final blocks"):
        switch(chain, list(reversed(branch_a[1:])), branch_b, finalized_height=0)
    assert snapshot(stores.db) == before


def test_switch_branch_may_fork_at_the_final_block(chain, reference):
    branch_a = commit_a(chain, finalized_height=1)
    branch_b = build_branch_b(reference, branch_a, 1)
    tip = switch(chain, list(reversed(branch_a[1:])), branch_b, finalized_height=0)
    assert tip.hash == branch_b[-1].block.hash
    assert chain.finalized().hash == branch_a[0].hash  # a lower finalized height never moves it back


def test_switch_branch_must_start_from_the_head(chain, stores, reference):
    branch_a = commit_a(chain)
    branch_b = build_branch_b(reference, branch_a, 1)
    before = snapshot(stores.db)
    with pytest.raises(StorageError, match="must start from the head"):
        switch(chain, [branch_a[1]], branch_b, finalized_height=0)
    assert snapshot(stores.db) == before


# --- the block tree -----------------------------------------------------------------------


def test_total_difficulty_accumulates_in_block_meta(chain, genesis):
    branch_a = commit_a(chain)
    assert chain.block_meta(genesis.hash) == BlockMeta(0, b"\x00" * 32, 0)
    for block in branch_a:
        assert chain.block_meta(block.hash) == BlockMeta(block.height, block.header.parent, 2 * block.height)
    assert chain.block_meta(b"\x01" * 32) is None


def test_total_difficulty_of_a_switched_branch_counts_its_own_blocks(chain, reference):
    branch_a = commit_a(chain)
    branch_b = build_branch_b(reference, branch_a, 0)
    switch(chain, list(reversed(branch_a)), branch_b, finalized_height=0)
    assert [chain.block_meta(a.block.hash).total_difficulty for a in branch_b] == [2, 4]


def test_side_block_is_stored_beside_the_canonical_one(chain, stores):
    side, _ = next_block(chain, [register_participant(BOB, 1)], ts=chain.head().ts + 1_500)
    first = commit_next(chain, [register_participant(ALICE, 1)], finalized_height=0)
    head = chain.head()
    chain.store_side_block(side, 7)
    assert chain.head() == head and chain.hash_at(1) == first.hash
    assert chain.block_meta(side.hash) == BlockMeta(1, side.header.parent, 7)
    assert chain.get_block(side.hash).header == side.header
    assert chain.signed_at(side.header.proposer, 1) == sorted([first.hash, side.hash])
    assert chain.signed_at(side.header.proposer, 2) == []
    assert not chain.has_event(side.events[0].id)  # a side block indexes nothing
    assert stores.db.get(keys.UNDO + side.hash) is None


def test_put_evidence_keeps_the_first_proof(chain):
    proposer = ALICE.did
    assert chain.put_evidence(proposer, 5, (b"h1", b"h2")) is True
    assert chain.put_evidence(proposer, 5, (b"h3", b"h4")) is False
    assert chain.evidence() == [encode([b"h1", b"h2"])]
    assert chain.put_evidence(proposer, 6, (b"h5", b"h6")) is True
    assert chain.put_evidence(BOB.did, 5, (b"h7", b"h8")) is True
    assert len(chain.evidence()) == 3 and len(chain.evidence(limit=2)) == 2
