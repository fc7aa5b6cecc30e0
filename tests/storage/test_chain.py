"""ChainStore: genesis, the atomic block commit, and every read over what it wrote."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from protocol.encoding import decode
from protocol.state import (
    BlockContext,
    apply_block,
    asset_key,
    genesis_writes,
    get_account,
    get_asset,
    next_state_root,
)
from storage import keys
from storage.chain import ChainStore, ChainTip, HistoryEntry
from storage.database import open_stores
from storage.errors import StorageError

from .chain_helpers import (
    commit,
    AUTHORITY,
    asset_cid,
    build_block,
    change_terms,
    commit_next,
    key,
    make_genesis,
    next_block,
    register_asset,
    register_participant,
)

ROOT = Path(__file__).resolve().parents[2]

ALICE = key("alice")
BOB = key("bob")
CAROL = key("carol")
ASSET_A = asset_cid("a")
ASSET_B = asset_cid("b")
ASSET_C = asset_cid("c")


@pytest.fixture
def genesis():
    return make_genesis()


@pytest.fixture
def chain(stores, genesis):
    stores.chain.init_genesis(genesis)
    return stores.chain


def snapshot(db) -> list[tuple[bytes, bytes]]:
    return list(db.iterator())


def state_snapshot(db) -> dict[bytes, bytes]:
    return {key[len(keys.STATE):]: value for key, value in db.iterator(prefix=keys.STATE)}


def build_sample_chain(chain: ChainStore) -> list:
    """Three blocks with assets, co-holders, parents and a change of terms.

    Returns a list of (block, result, state values before the block for every key it writes).
    """
    plan = [
        [register_participant(ALICE, 1, "alice"), register_participant(BOB, 1, "bob")],
        [register_asset(ALICE, 2, ASSET_A, co_holder=BOB), register_asset(BOB, 2, ASSET_B)],
        [
            change_terms(ALICE, 3, ASSET_A),
            register_asset(ALICE, 4, ASSET_C, parents=(_parent(ASSET_A),)),
            register_participant(CAROL, 1, "carol"),
        ],
    ]
    committed = []
    for events in plan:
        block, result = next_block(chain, events)
        before = {k: chain.get(k) for k in result.writes}
        tip = commit(chain, block, result, finalized_height=block.height)
        assert tip == ChainTip(block.height, block.hash, block.header.state_root, block.header.ts)
        committed.append((block, result, before))
    return committed


def _parent(cid: str):
    from protocol.events import Parent

    return Parent(asset=cid, relation="remix_of")


# --- genesis -------------------------------------------------------------------------


def test_head_before_genesis_is_a_storage_error(stores):
    with pytest.raises(StorageError, match="genesis"):
        stores.chain.head()
    with pytest.raises(StorageError, match="genesis"):
        stores.chain.finalized()


def test_init_genesis_writes_allocations_and_tips(stores, genesis):
    tip = stores.chain.init_genesis(genesis)
    expected_root = next_state_root(genesis.hash, genesis_writes(genesis))
    assert tip == ChainTip(0, genesis.hash, expected_root, genesis.timestamp)
    assert stores.chain.head() == tip
    assert stores.chain.finalized() == tip
    assert stores.chain.hash_at(0) == genesis.hash
    assert stores.chain.hash_at(1) is None
    assert stores.db.get(keys.GENESIS) == genesis.hash
    for did, amount in genesis.allocations:
        account = get_account(stores.chain, did)
        assert account.balance == amount
        assert account.nonce == 0 and account.registered_at == 0
    assert get_account(stores.chain, CAROL.did).balance == 0  # not allocated
    assert state_snapshot(stores.db) == genesis_writes(genesis)


def test_reinit_with_same_genesis_is_a_no_op(tmp_path, genesis):
    stores = open_stores(tmp_path)
    tip = stores.chain.init_genesis(genesis)
    block = commit_next(stores.chain, [register_participant(ALICE, 1)])
    before = snapshot(stores.db)
    # Same process, same genesis: returns the current head, writes nothing.
    assert stores.chain.init_genesis(genesis).hash == block.hash
    assert snapshot(stores.db) == before
    stores.close()

    reopened = open_stores(tmp_path)
    try:
        head = reopened.chain.init_genesis(make_genesis())  # an equal Genesis built anew
        assert head.height == 1 and head.hash == block.hash
        assert reopened.chain.hash_at(0) == tip.hash
        assert snapshot(reopened.db) == before
    finally:
        reopened.close()


def test_init_with_another_genesis_is_refused(tmp_path, genesis):
    stores = open_stores(tmp_path)
    stores.chain.init_genesis(genesis)
    stores.close()
    reopened = open_stores(tmp_path)
    try:
        before = snapshot(reopened.db)
        other = make_genesis(network_id="another-net")
        with pytest.raises(StorageError, match="genesis"):
            reopened.chain.init_genesis(other)
        other_allocations = make_genesis(allocations={CAROL.did: 7})
        with pytest.raises(StorageError):
            reopened.chain.init_genesis(other_allocations)
        assert snapshot(reopened.db) == before
    finally:
        reopened.close()


# --- commit and reads ----------------------------------------------------------------


def test_commit_block_reads_agree(chain, stores, genesis):
    committed = build_sample_chain(chain)
    last_block = committed[-1][0]
    assert chain.head() == ChainTip(3, last_block.hash, last_block.header.state_root, last_block.header.ts)
    assert chain.finalized() == chain.head()
    assert chain.hash_at(0) == genesis.hash
    assert chain.hash_at(4) is None
    assert list(chain.iter_canonical(0, 10)) == [(0, genesis.hash)] + [(b.height, b.hash) for b, _, _ in committed]
    assert list(chain.iter_canonical(1, 3)) == [(1, committed[0][0].hash), (2, committed[1][0].hash)]

    for block, _, _ in committed:
        assert chain.hash_at(block.height) == block.hash
        assert chain.get_block_raw(block.hash) == block.raw
        stored = chain.get_block(block.hash)
        assert stored.hash == block.hash
        assert stored.header == block.header
        assert [e.raw for e in stored.events] == [e.raw for e in block.events]
        for index, event in enumerate(block.events):
            got = chain.get_event(event.id)
            assert (got.height, got.index, got.block_hash, got.raw) == (block.height, index, block.hash, event.raw)
    assert chain.get_block(b"\x00" * 32) is None
    assert chain.get_event(b"\x00" * 32) is None


def test_state_reads_reflect_writes(chain, stores):
    committed = build_sample_chain(chain)
    expected = {}
    for _, result, _ in committed:
        expected.update(result.writes)
    for state_key, value in expected.items():
        assert chain.get(state_key) == value
    alice = get_account(chain, ALICE.did)
    assert (alice.nonce, alice.name, alice.registered_at, alice.balance) == (4, "alice", 1, 1_000)
    carol = get_account(chain, CAROL.did)
    assert (carol.nonce, carol.registered_at) == (1, 3)
    asset_a = get_asset(chain, ASSET_A)
    assert asset_a.registered_at == 2 and asset_a.terms_since == 3
    assert asset_a.terms["purposes"]["ai_training"]["mode"] == "allowed"
    assert get_asset(chain, ASSET_C).registration["parents"] == [{"asset": ASSET_A, "relation": "remix_of"}]
    assert get_asset(chain, asset_cid("never")) is None
    # Replaying from genesis on a plain dict gives exactly the stored state and root.
    assert_state_matches_replay(stores.db, chain, make_genesis())


def test_undo_records_hold_previous_values(chain, stores):
    committed = build_sample_chain(chain)
    for block, result, before in committed:
        raw = stores.db.get(keys.UNDO + block.hash)
        assert raw is not None
        undo_state, _ = decode(raw)
        assert undo_state == [[k, before[k]] for k in sorted(result.writes)]
    # Block 2 created asset A: its undo says "absent" for it; block 3 changed it: the undo
    # holds the record as block 2 left it.
    undo_2 = chain.undo_writes(committed[1][0].hash)
    assert undo_2[asset_key(ASSET_A)] is None
    undo_3 = chain.undo_writes(committed[2][0].hash)
    assert undo_3[asset_key(ASSET_A)] == committed[1][1].writes[asset_key(ASSET_A)]
    # Applying the undo of every block, newest first, gives back the genesis state.
    state = state_snapshot(stores.db)
    for block, _, _ in reversed(committed):
        for k, previous in chain.undo_writes(block.hash).items():
            if previous is None:
                state.pop(k, None)
            else:
                state[k] = previous
    assert state == genesis_writes(make_genesis())


def test_asset_history_in_chain_order(chain):
    committed = build_sample_chain(chain)
    (b1, _, _), (b2, _, _), (b3, _, _) = committed
    assert chain.asset_history(ASSET_A) == [
        HistoryEntry(2, 0, b2.events[0].id),  # registration
        HistoryEntry(3, 0, b3.events[0].id),  # terms change
        HistoryEntry(3, 1, b3.events[1].id),  # named as the parent of C
    ]
    assert chain.asset_history(ASSET_B) == [HistoryEntry(2, 1, b2.events[1].id)]
    assert chain.asset_history(ASSET_C) == [HistoryEntry(3, 1, b3.events[1].id)]
    assert chain.asset_history(asset_cid("unknown")) == []


def test_account_history_in_chain_order(chain):
    committed = build_sample_chain(chain)
    (b1, _, _), (b2, _, _), (b3, _, _) = committed
    assert chain.account_history(ALICE.did) == [
        HistoryEntry(1, 0, b1.events[0].id),
        HistoryEntry(2, 0, b2.events[0].id),
        HistoryEntry(3, 0, b3.events[0].id),
        HistoryEntry(3, 1, b3.events[1].id),
    ]
    # Bob: his registration, being named co-holder of A, his own asset, and the terms change
    # of A (he holds it); not C, which only alice holds.
    assert chain.account_history(BOB.did) == [
        HistoryEntry(1, 1, b1.events[1].id),
        HistoryEntry(2, 0, b2.events[0].id),
        HistoryEntry(2, 1, b2.events[1].id),
        HistoryEntry(3, 0, b3.events[0].id),
    ]
    assert chain.account_history(CAROL.did) == [HistoryEntry(3, 2, b3.events[2].id)]
    assert chain.account_history(AUTHORITY.did) == []


def test_history_indexes_match_touched(chain):
    committed = build_sample_chain(chain)
    expected_assets: dict[str, list] = {}
    expected_accounts: dict[str, list] = {}
    for block, result, _ in committed:
        for index, (event, touched) in enumerate(zip(block.events, result.touched)):
            for cid in dict.fromkeys(touched.assets):
                expected_assets.setdefault(cid, []).append(HistoryEntry(block.height, index, event.id))
            for did in dict.fromkeys(touched.accounts):
                expected_accounts.setdefault(did, []).append(HistoryEntry(block.height, index, event.id))
    for cid, entries in expected_assets.items():
        assert chain.asset_history(cid) == entries
    for did, entries in expected_accounts.items():
        assert chain.account_history(did) == entries


def test_history_pagination(chain):
    build_sample_chain(chain)
    full = chain.account_history(ALICE.did)
    assert len(full) == 4
    for limit in range(1, 6):
        pages, cursor = [], None
        while True:
            page = chain.account_history(ALICE.did, after=cursor, limit=limit)
            assert len(page) <= limit
            if not page:
                break
            pages.extend(page)
            cursor = (page[-1].height, page[-1].index)
        assert pages == full
    assert chain.account_history(ALICE.did, limit=2) == full[:2]
    assert chain.account_history(ALICE.did, after=(2, 0), limit=1) == full[2:3]
    assert chain.account_history(ALICE.did, after=(2, 0)) == full[2:]
    assert chain.account_history(ALICE.did, after=(3, 1)) == []
    # A cursor between entries (no entry at that position) starts at the next one.
    assert chain.account_history(ALICE.did, after=(1, 5)) == full[1:]
    assert chain.account_history(ALICE.did, after=(0, 0)) == full
    assert chain.asset_history(ASSET_A, after=(2, 0), limit=1) == chain.asset_history(ASSET_A)[1:2]


def test_history_of_one_name_does_not_run_into_another(stores, genesis):
    # Two histories sorted next to each other in the key space: stop exactly at the prefix end.
    chain = stores.chain
    chain.init_genesis(genesis)
    users = [key(f"neighbour-{i}") for i in range(6)]
    commit_next(chain, [register_participant(u, 1) for u in users])
    for index, user in enumerate(users):
        assert [(e.height, e.index) for e in chain.account_history(user.did)] == [(1, index)]


def test_finalized_tip_follows_finalized_height(chain, genesis):
    b1 = commit_next(chain, [register_participant(ALICE, 1)], finalized_height=0)
    assert chain.finalized().hash == genesis.hash
    b2 = commit_next(chain, [register_participant(BOB, 1)], finalized_height=1)
    # Finality lagging the head by one block (e.g. three authorities): block 1 is final.
    assert chain.finalized() == ChainTip(1, b1.hash, b1.header.state_root, b1.header.ts)
    assert chain.head().hash == b2.hash
    b3 = commit_next(chain, [register_participant(CAROL, 1)], finalized_height=0)
    assert chain.finalized().hash == b1.hash  # never moves back
    commit_next(chain, [register_asset(ALICE, 2, ASSET_A)], finalized_height=3)
    assert chain.finalized() == ChainTip(3, b3.hash, b3.header.state_root, b3.header.ts)
    b5 = commit_next(chain, [register_asset(BOB, 2, ASSET_B)], finalized_height=99)
    assert chain.finalized() == chain.head() == ChainTip(5, b5.hash, b5.header.state_root, b5.header.ts)


def test_commit_survives_reopen(tmp_path, genesis):
    stores = open_stores(tmp_path)
    stores.chain.init_genesis(genesis)
    committed = build_sample_chain(stores.chain)
    before = snapshot(stores.db)
    stores.close()
    reopened = open_stores(tmp_path)
    try:
        assert snapshot(reopened.db) == before
        assert reopened.chain.head().hash == committed[-1][0].hash
        assert_consistent(reopened.db, reopened.chain, genesis)
    finally:
        reopened.close()


# --- refusals write nothing -------------------------------------------------------------


def test_block_not_extending_head_is_refused_and_writes_nothing(chain, stores, genesis):
    genesis_tip = chain.head()
    commit_next(chain, [register_participant(ALICE, 1)])
    before = snapshot(stores.db)

    # A sibling of block 1 (parent = genesis, height 1): a fork, not on the head.
    sibling, sibling_result = build_block(
        chain, genesis.hash, 0, genesis_tip.state_root, [register_participant(BOB, 1)]
    )
    with pytest.raises(StorageError, match="does not extend"):
        commit(chain, sibling, sibling_result, finalized_height=1)
    assert snapshot(stores.db) == before

    # Right parent, wrong height.
    head = chain.head()
    skipping, skipping_result = build_block(chain, head.hash, head.height + 1, head.state_root, [register_participant(BOB, 1)])
    with pytest.raises(StorageError, match="does not extend"):
        commit(chain, skipping, skipping_result, finalized_height=0)
    assert snapshot(stores.db) == before

    # Right height, unknown parent.
    orphan, orphan_result = build_block(chain, b"\x07" * 32, head.height, head.state_root, [register_participant(BOB, 1)])
    with pytest.raises(StorageError, match="does not extend"):
        commit(chain, orphan, orphan_result, finalized_height=0)
    assert snapshot(stores.db) == before
    assert chain.get_block(sibling.hash) is None and chain.get_event(sibling.events[0].id) is None


def test_state_root_mismatch_is_refused_and_writes_nothing(chain, stores):
    commit_next(chain, [register_participant(ALICE, 1)])
    before = snapshot(stores.db)

    # Header claims a state root the events do not produce.
    bad, result = next_block(chain, [register_participant(BOB, 1)], state_root=b"\x01" * 32)
    with pytest.raises(StorageError, match="state root"):
        commit(chain, bad, result, finalized_height=bad.height)
    assert snapshot(stores.db) == before

    # A correct header but the result of applying other events.
    good, _ = next_block(chain, [register_participant(BOB, 1)])
    _, other_result = next_block(chain, [register_participant(CAROL, 1)])
    with pytest.raises(StorageError, match="state root"):
        commit(chain, good, other_result, finalized_height=good.height)
    assert snapshot(stores.db) == before

    # The refused block can still be committed with its own result afterwards.
    good, good_result = next_block(chain, [register_participant(BOB, 1)])
    commit(chain, good, good_result, finalized_height=good.height)
    assert chain.head().hash == good.hash


# --- atomicity -----------------------------------------------------------------------


class SimulatedCrash(Exception):
    pass


class _CrashingBatch:
    def __init__(self, inner, owner) -> None:
        self._inner = inner
        self._owner = owner

    def __enter__(self):
        self._inner.__enter__()
        return self

    def __exit__(self, *exc_info):
        return self._inner.__exit__(*exc_info)

    def _step(self) -> None:
        self._owner.ops += 1
        if self._owner.fail_at is not None and self._owner.ops > self._owner.fail_at:
            raise SimulatedCrash(f"crash after {self._owner.fail_at} batch operations")

    def put(self, key, value):
        self._step()
        self._inner.put(key, value)

    def delete(self, key):
        self._step()
        self._inner.delete(key)


class CrashingDB:
    """Delegates to a real plyvel DB; its write batches raise after ``fail_at`` operations."""

    def __init__(self, db, fail_at: int | None) -> None:
        self._db = db
        self.fail_at = fail_at
        self.ops = 0
        self.batch_options: list[dict] = []

    def __getattr__(self, name):
        return getattr(self._db, name)

    def write_batch(self, **options):
        self.batch_options.append(options)
        return _CrashingBatch(self._db.write_batch(**options), self)


def _pending_block(chain):
    """A block 3 on top of the sample chain's first two blocks, with state changes and indexes."""
    return next_block(
        chain,
        [change_terms(ALICE, 3, ASSET_A), register_asset(ALICE, 4, ASSET_C, parents=(_parent(ASSET_A),))],
    )


def _two_block_chain(chain):
    commit_next(chain, [register_participant(ALICE, 1, "alice"), register_participant(BOB, 1, "bob")])
    commit_next(chain, [register_asset(ALICE, 2, ASSET_A, co_holder=BOB), register_asset(BOB, 2, ASSET_B)])


def test_commit_uses_one_synced_transactional_batch(chain, stores):
    _two_block_chain(chain)
    counting = CrashingDB(stores.db, fail_at=None)
    block, result = _pending_block(chain)
    commit(ChainStore(counting), block, result, finalized_height=block.height)
    assert counting.batch_options == [{"transaction": True, "sync": True}]
    assert counting.ops > 5


def test_crash_mid_commit_leaves_db_unchanged(chain, stores):
    _two_block_chain(chain)
    block, result = _pending_block(chain)
    before = snapshot(stores.db)
    # Crash after 0, 1, 2, ... batch operations until the commit gets through whole.
    fail_at = 0
    while True:
        crashing = CrashingDB(stores.db, fail_at=fail_at)
        try:
            commit(ChainStore(crashing), block, result, finalized_height=block.height)
        except SimulatedCrash:
            assert crashing.ops == fail_at + 1
            assert snapshot(stores.db) == before, f"a crash after {fail_at} operations left writes behind"
            fail_at += 1
            continue
        break
    assert fail_at > 5  # the crash points really were inside the batch, after some puts
    # The commit that got through (no crash) is whole.
    assert chain.head().hash == block.hash
    assert_consistent(stores.db, chain, make_genesis())


# --- killed at a random instant ---------------------------------------------------------

_CHILD = """
import sys
from pathlib import Path
from storage.database import open_stores
from tests.storage.chain_helpers import Workload, commit_next, make_genesis

stores = open_stores(Path(sys.argv[1]))
stores.chain.init_genesis(make_genesis())
workload = Workload()
while True:
    block = commit_next(stores.chain, workload.events_for_next_block())
    print(block.height, flush=True)
"""


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_sigkill_mid_commit_restarts_consistent(tmp_path, seed):
    rng = random.Random(seed)
    data_dir = tmp_path / "node"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(data_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wanted = rng.randint(3, 25)
        reported = 0
        while reported < wanted:
            line = child.stdout.readline()
            assert line, f"child exited early: {child.stderr.read()}"
            reported = int(line)
        time.sleep(rng.uniform(0, 0.03))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    # Every height the child reported had been committed with sync before it printed it.
    for line in child.stdout.read().split():
        reported = max(reported, int(line))
    child.stdout.close()
    child.stderr.close()

    stores = open_stores(data_dir)
    try:
        genesis = make_genesis()
        head = stores.chain.init_genesis(genesis)  # same genesis: returns the head
        assert head.height >= reported
        assert_consistent(stores.db, stores.chain, genesis)
        # And the chain goes on from there.
        newcomer = key(f"after-restart-{seed}")
        block = commit_next(stores.chain, [register_participant(newcomer, 1)])
        assert block.height == head.height + 1
        assert_consistent(stores.db, stores.chain, genesis)
    finally:
        stores.close()


# --- consistency checks shared by the tests above ------------------------------------------


class _DictState:
    def __init__(self, values: dict[bytes, bytes]) -> None:
        self.values = values

    def get(self, key: bytes):
        return self.values.get(key)


def assert_state_matches_replay(db, chain: ChainStore, genesis) -> None:
    """Replay every canonical block on a dict: same state, same root as stored."""
    values = dict(genesis_writes(genesis))
    root = next_state_root(genesis.hash, values)
    head = chain.head()
    for height in range(1, head.height + 1):
        block = chain.get_block(chain.hash_at(height))
        result = apply_block(_DictState(values), block.events, BlockContext(height, block.header.ts), root)
        assert result.state_root == block.header.state_root
        for k, v in result.writes.items():
            if v is None:
                values.pop(k, None)
            else:
                values[k] = v
        root = result.state_root
    assert root == head.state_root
    assert state_snapshot(db) == values


def assert_consistent(db, chain: ChainStore, genesis) -> None:
    """Head, canonical index, blocks, events, indexes, undo records and state agree."""
    head = chain.head()
    finalized = chain.finalized()
    assert finalized.height <= head.height
    assert chain.hash_at(finalized.height) == finalized.hash
    assert chain.hash_at(0) == genesis.hash
    canonical = list(chain.iter_canonical(0, 2**63))
    assert [h for h, _ in canonical] == list(range(head.height + 1)), "canonical index has gaps or runs past the head"
    assert canonical[-1][1] == head.hash

    block_hashes, event_ids = set(), set()
    asset_entries, account_entries = set(), set()
    parent = genesis.hash
    for height, block_hash in canonical[1:]:
        block = chain.get_block(block_hash)
        assert block is not None, f"block {height} is indexed but missing"
        assert block.height == height and block.header.parent == parent
        assert db.get(keys.UNDO + block_hash) is not None
        block_hashes.add(block_hash)
        for index, event in enumerate(block.events):
            stored = chain.get_event(event.id)
            assert stored is not None, f"event {index} of block {height} is not indexed"
            assert (stored.height, stored.index, stored.block_hash, stored.raw) == (height, index, block_hash, event.raw)
            event_ids.add(event.id)
            assert HistoryEntry(height, index, event.id) in chain.account_history(
                event.author, after=(height, index - 1) if index else (height - 1, 2**32 - 1), limit=1
            )
        parent = block_hash
    assert head.state_root == (chain.get_block(head.hash).header.state_root if head.height else head.state_root)

    # Nothing beyond the head: no block, event or undo record that the canonical chain lacks.
    assert {k[len(keys.BLOCK):] for k, _ in db.iterator(prefix=keys.BLOCK)} == block_hashes
    assert {k[len(keys.EVENT):] for k, _ in db.iterator(prefix=keys.EVENT)} == event_ids
    assert {k[len(keys.UNDO):] for k, _ in db.iterator(prefix=keys.UNDO)} == block_hashes
    for space in (keys.ASSET_HISTORY, keys.ACCOUNT_HISTORY):
        for k, event_id in db.iterator(prefix=space):
            height, index = keys.parse_position(k[-12:])
            assert 1 <= height <= head.height and event_id in event_ids
            stored = chain.get_event(event_id)
            assert (stored.height, stored.index) == (height, index)
    assert_state_matches_replay(db, chain, genesis)
