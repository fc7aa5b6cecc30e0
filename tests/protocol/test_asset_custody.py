"""The chain's custody rules: shares for exactly the authorities in force, a copy per holder, reshare by holders."""

from __future__ import annotations

from dataclasses import replace

import pytest

from protocol.asset_custody import custody_index_key, get_custody
from protocol.authorities import authorities_writes
from protocol.errors import Rejected
from protocol.events import AssetReshare
from protocol.keys import SigningKey
from protocol.state import StateOverlay, apply_event, get_asset

from .factories import ALICE, BOB, CAROL, asset_register, custody
from .test_state import CTX, LATER, DictState, event, register

ASSET = asset_register().cid
AUTHORITY_KEYS = [SigningKey(bytes([0x60 + i]) * 32) for i in range(4)]
AUTHORITIES = tuple(key.did for key in AUTHORITY_KEYS)


def world(authorities: tuple[str, ...] = AUTHORITIES) -> StateOverlay:
    state = StateOverlay(DictState(authorities_writes(authorities)))
    apply_event(state, register(ALICE), CTX)
    apply_event(state, register(BOB, roles=("contributor",)), CTX)
    apply_event(state, register(CAROL, roles=("consumer",)), CTX)
    return state


def holders_asset(with_custody):
    return replace(asset_register(((ALICE.did, 6_000), (BOB.did, 4_000))), custody=with_custody)


def test_a_registration_with_custody_for_the_authorities_is_kept_and_indexed():
    state = world()
    given = custody(AUTHORITIES, (ALICE.did, BOB.did))
    apply_event(state, event(ALICE, holders_asset(given), 2), CTX)
    record = get_asset(state, ASSET)
    assert get_custody(record) == given
    assert record.custody_since == CTX.height
    assert "custody" not in record.registration
    assert all(state.get(custody_index_key(did, ASSET)) == b"" for did in AUTHORITIES)


@pytest.mark.parametrize(
    "authorities, holders, reason",
    [
        (AUTHORITIES[:3], (ALICE.did, BOB.did), "misses"),
        ((*AUTHORITIES, CAROL.did), (ALICE.did, BOB.did), "not authorities"),
        (AUTHORITIES, (ALICE.did,), "each rights holder"),
        (AUTHORITIES, (ALICE.did, BOB.did, CAROL.did), "each rights holder"),
    ],
)
def test_invalid_custody_that_misses_an_authority_or_a_holder_is_rejected(authorities, holders, reason):
    state = world()
    with pytest.raises(Rejected, match=reason):
        apply_event(state, event(ALICE, holders_asset(custody(authorities, holders)), 2), CTX)


def test_a_rights_holder_reshares_for_a_new_authority_set_and_the_index_follows():
    state = world(AUTHORITIES[:3])
    apply_event(state, event(ALICE, holders_asset(custody(AUTHORITIES[:3], (ALICE.did, BOB.did))), 2), CTX)
    state.put(b"consensus/authorities", authorities_writes(AUTHORITIES[1:])[b"consensus/authorities"])
    new = custody(AUTHORITIES[1:], (ALICE.did, BOB.did), key=b"\x09" * 32)
    apply_event(state, event(BOB, AssetReshare(asset=ASSET, custody=new), 2), LATER)
    record = get_asset(state, ASSET)
    assert get_custody(record) == new and record.custody_since == LATER.height
    assert state.get(custody_index_key(AUTHORITIES[0], ASSET)) is None
    assert state.get(custody_index_key(AUTHORITIES[3], ASSET)) == b""


def test_invalid_reshare_by_someone_who_is_not_a_rights_holder():
    state = world()
    apply_event(state, event(ALICE, holders_asset(custody(AUTHORITIES, (ALICE.did, BOB.did))), 2), CTX)
    with pytest.raises(Rejected, match="only a rights holder"):
        apply_event(state, event(CAROL, AssetReshare(asset=ASSET, custody=custody(AUTHORITIES, (ALICE.did, BOB.did))), 2), LATER)


def test_invalid_reshare_for_an_outdated_authority_set():
    state = world()
    apply_event(state, event(ALICE, holders_asset(custody(AUTHORITIES, (ALICE.did, BOB.did))), 2), CTX)
    with pytest.raises(Rejected, match="misses"):
        apply_event(state, event(ALICE, AssetReshare(asset=ASSET, custody=custody(AUTHORITIES[:2], (ALICE.did, BOB.did))), 3), LATER)
