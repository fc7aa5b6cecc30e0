"""The releaser on a real store: releases only up to the final height, each once; how gossiped releases are judged."""

from __future__ import annotations

from dataclasses import replace

import pytest

from node.chain.key_release import KeyReleaser, judge_release
from node.chain.ledger import Ledger
from node.chain.vote_pool import VotePool
from protocol.votes import Checkpoint, sign_vote, unsigned_vote
from protocol.asset_custody import get_custody
from protocol.events import Access, sign_event
from protocol.key_custody import build_custody, open_sealed, recover_key
from protocol.releases import sign_release
from protocol.state import get_asset
from protocol.terms import ALLOWED, Terms
from storage.database import open_stores
from storage.releases import ReleaseStore
from tests.storage.chain_helpers import AUTHORITY, GENESIS_TS, asset_cid, key, make_genesis, next_block, register_asset, register_participant

ALICE, BOB = key("alice"), key("bob")
CID = asset_cid("released")
CONTENT_KEY = bytes(range(32))


@pytest.fixture
def world(tmp_path):
    stores = open_stores(tmp_path / "node")
    ledger = Ledger(stores.chain, make_genesis())
    yield ledger, ReleaseStore(stores.db)
    stores.close()


def append(ledger: Ledger, events) -> int:
    block, result = next_block(ledger.chain, events)
    ledger.append(block, result)
    return block.height


def finalize_head(ledger: Ledger) -> None:
    """The one authority votes along the canonical chain, then for one block more: the head so far is final."""
    head = append(ledger, [])
    pool = VotePool(ledger)
    source = Checkpoint(0, ledger.chain.hash_at(0))
    for height in range(1, head + 1):
        target = Checkpoint(height, ledger.chain.hash_at(height))
        pool.add(sign_vote(AUTHORITY, unsigned_vote(AUTHORITY.did, source, target)))
        source = target
    assert ledger.finalized.height == head - 1


def registered(ledger: Ledger) -> None:
    registration = register_asset(ALICE, 2, CID)
    body = replace(registration.body, terms=Terms.make({"data_mining": (ALLOWED, 0)}), custody=build_custody(CONTENT_KEY, CID, [AUTHORITY.did], [ALICE.did]))
    append(ledger, [register_participant(ALICE, 1), register_participant(BOB, 1), sign_event(ALICE, body, 2, GENESIS_TS + 2)])


def ledger_custody(ledger: Ledger):
    return get_custody(get_asset(ledger.chain, CID))


def bob_access(nonce: int = 2):
    return sign_event(BOB, Access(CID, "data_mining", None, None, "12D3KooWPeer", 1234, 0), nonce, GENESIS_TS + 10 + nonce)


def test_releases_are_made_up_to_the_final_height_only_and_once(world):
    ledger, store = world
    published = []
    releaser = KeyReleaser(ledger, store, AUTHORITY, published.append)
    registered(ledger)
    access = bob_access()
    height = append(ledger, [access])
    assert releaser.release_up_to(height - 1) == 0 and store.for_access(access.id) == []
    assert releaser.release_up_to(height) == 1
    (release,) = store.for_access(access.id)
    assert published == [release] and release.index == 1 and release.releaser == AUTHORITY.did
    assert recover_key(CID, ledger_custody(ledger), {1: open_sealed(BOB, release.sealed_share)}) == CONTENT_KEY
    assert releaser.release_up_to(height) == 0 and len(published) == 1, "each access is released once"


def test_a_node_without_a_share_releases_nothing(world):
    ledger, store = world
    releaser = KeyReleaser(ledger, store, key("someone else"), lambda release: None)
    registered(ledger)
    access = bob_access()
    assert releaser.release_up_to(append(ledger, [access])) == 0


def test_judging_a_gossiped_release(world):
    ledger, store = world
    registered(ledger)
    access = bob_access()
    append(ledger, [access])
    finalize_head(ledger)
    share = open_sealed(AUTHORITY, ledger_custody(ledger).shares[0].sealed)
    good = sign_release(AUTHORITY, access.id, CID, 1, share, BOB.did)
    assert judge_release(ledger.chain, ledger.finalized, good) == (True, "")
    not_final = replace(ledger.finalized, height=ledger.finalized.height - 1)
    ok, why = judge_release(ledger.chain, not_final, good)
    assert not ok and "not final" in why and not why.startswith("reject: ")
    other_asset = sign_release(AUTHORITY, access.id, asset_cid("other"), 1, share, BOB.did)
    assert judge_release(ledger.chain, ledger.finalized, other_asset)[1].startswith("reject: ")
    by_stranger = sign_release(ALICE, access.id, CID, 1, share, BOB.did)
    ok, why = judge_release(ledger.chain, ledger.finalized, by_stranger)
    assert not ok and "holds no share 1" in why
    unknown = sign_release(AUTHORITY, b"\x01" * 32, CID, 1, share, BOB.did)
    assert "is not on this node's chain" in judge_release(ledger.chain, ledger.finalized, unknown)[1]

