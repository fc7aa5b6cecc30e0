"""The state machine on a dict: every rule of the enabled kinds, and block-level determinism."""

from __future__ import annotations

import copy
import hashlib

import msgpack
import pytest

from protocol.authorities import AUTHORITIES_KEY, get_authorities
from protocol.encoding import decode, encode
from protocol.errors import Rejected
from protocol.events import BODY_TYPES, AssetTerms, AssetWithdraw, Body, Event, Parent, ParticipantRegister, sign_event
from protocol.genesis import parse_genesis
from protocol.keys import SigningKey
from protocol.state import (
    ACTIVE,
    WITHDRAWN,
    Account,
    BlockContext,
    StateOverlay,
    Touched,
    account_key,
    apply_block,
    apply_event,
    asset_key,
    enabled_kinds,
    genesis_writes,
    get_account,
    get_asset,
    next_state_root,
)
from protocol.terms import ALLOWED, Terms

from .factories import ALICE, BOB, CAROL, TS, asset_register, cid, valid_bodies

CTX = BlockContext(height=5, ts=TS)
LATER = BlockContext(height=9, ts=TS + 10_000)
PARENT_ROOT = b"\x42" * 32
NEW_TERMS = Terms.make({"ai_inference": (ALLOWED, 0)})


class DictState:
    """The narrowest StateView: a dict with get()."""

    def __init__(self, data: dict[bytes, bytes] | None = None) -> None:
        self.data = dict(data or {})

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)


def encoded_account(**fields: int) -> bytes:
    return encode(Account(**fields).to_wire())  # type: ignore[arg-type]


def event(key: SigningKey, body: Body, nonce: int) -> Event:
    return sign_event(key, body, nonce=nonce, ts=TS)


def register(key: SigningKey, nonce: int = 1, roles: tuple[str, ...] = ("creator",), name: str = "someone") -> Event:
    return event(key, ParticipantRegister(name=name, roles=roles), nonce)


def two_holder_asset(**kwargs: object) -> Body:
    return asset_register(((ALICE.did, 6_000), (BOB.did, 4_000)), **kwargs)  # type: ignore[arg-type]


def fresh(*events: Event, base: DictState | None = None, context: BlockContext = CTX) -> StateOverlay:
    """An overlay with ``events`` applied, each of which must be accepted."""
    state = StateOverlay(base or DictState())
    for item in events:
        apply_event(state, item, context)
    return state


def registered() -> StateOverlay:
    """Alice (creator), Bob (contributor) and Carol (consumer) registered; Alice's asset registered."""
    return fresh(
        register(ALICE, name="Alice"),
        register(BOB, roles=("contributor",), name="Bob"),
        register(CAROL, roles=("consumer",), name="Carol"),
        event(ALICE, two_holder_asset(), 2),
    )


ASSET = two_holder_asset().cid  # type: ignore[attr-defined]


def rejected(state: StateOverlay, item: Event, *fragments: str, context: BlockContext = CTX) -> None:
    before = copy.deepcopy(state.writes)
    with pytest.raises(Rejected) as exc:
        apply_event(state, item, context)
    for fragment in fragments:
        assert fragment in exc.value.message, f"{fragment!r} not in {exc.value.message!r}"
    assert state.writes == before, "a rejected event must leave the state unchanged"


# --- participant.register ------------------------------------------------------------


def test_participant_register() -> None:
    state = StateOverlay(DictState())
    touched = apply_event(state, register(ALICE, roles=("creator", "consumer"), name="Alice"), CTX)
    assert touched == Touched(assets=(), accounts=(ALICE.did,))
    account = get_account(state, ALICE.did)
    assert account == Account(nonce=1, balance=0, name="Alice", roles=["creator", "consumer"], registered_at=5)
    assert set(state.writes) == {account_key(ALICE.did)}


def test_unknown_account_reads_as_empty() -> None:
    assert get_account(DictState(), BOB.did) == Account()


def test_register_keeps_genesis_balance() -> None:
    base = DictState({account_key(ALICE.did): encoded_account(balance=700)})
    state = fresh(register(ALICE), base=base)
    assert get_account(state, ALICE.did).balance == 700
    assert get_account(state, ALICE.did).registered_at == 5


def test_invalid_register_twice() -> None:
    state = fresh(register(ALICE, name="Alice"))
    rejected(state, register(ALICE, nonce=2, name="Alice again"), f"{ALICE.did} is already registered as 'Alice'")


# --- nonces --------------------------------------------------------------------------


def test_invalid_nonce_replay() -> None:
    state = fresh(register(ALICE))
    rejected(state, event(ALICE, two_holder_asset(), 1), "nonce 1", ALICE.did, "already used", "last used: 1")


def test_invalid_nonce_replay_of_same_event() -> None:
    first = register(ALICE)
    state = fresh(first)
    rejected(state, first, "already used")


def test_invalid_nonce_gap() -> None:
    rejected(StateOverlay(DictState()), register(ALICE, nonce=2), "nonce 2", "leaves a gap (next is 1)")
    state = fresh(register(ALICE))
    rejected(state, event(ALICE, two_holder_asset(), 3), "leaves a gap (next is 2)")


def test_nonces_are_per_author() -> None:
    state = fresh(register(ALICE), register(BOB))
    assert get_account(state, ALICE.did).nonce == get_account(state, BOB.did).nonce == 1


def test_rejected_event_does_not_use_its_nonce() -> None:
    state = fresh(register(ALICE))
    rejected(state, event(ALICE, asset_register(((BOB.did, 10_000),)), 2), "rights holders")
    assert get_account(state, ALICE.did).nonce == 1
    apply_event(state, event(ALICE, two_holder_asset(), 2), CTX)
    assert get_account(state, ALICE.did).nonce == 2


# --- asset.register ------------------------------------------------------------------


def test_asset_register() -> None:
    state = fresh(register(ALICE))
    body = two_holder_asset()
    item = event(ALICE, body, 2)
    touched = apply_event(state, item, LATER)
    assert touched == Touched(assets=(body.cid,), accounts=(ALICE.did, BOB.did))  # type: ignore[attr-defined]
    record = get_asset(state, body.cid)  # type: ignore[attr-defined]
    assert record is not None
    assert record.registration == {k: v for k, v in body.to_wire().items() if k != "fingerprint"}
    assert record.registrant == ALICE.did
    assert record.registered_at == 9 and record.terms_since == 9
    assert record.register_event == item.id
    assert record.terms == body.terms.to_wire()  # type: ignore[attr-defined]
    assert record.status == ACTIVE
    assert record.holders == [ALICE.did, BOB.did]
    assert get_account(state, ALICE.did).nonce == 2


def test_asset_register_by_contributor() -> None:
    state = fresh(register(BOB, roles=("contributor",)))
    apply_event(state, event(BOB, asset_register(((BOB.did, 10_000),), tag="sample"), 2), CTX)
    assert get_asset(state, cid("sample", 0x70)) is not None


def test_asset_register_with_registered_parent() -> None:
    state = registered()
    remix = asset_register(((BOB.did, 10_000),), tag="remix", parents=(Parent(ASSET, "remix_of"),))
    touched = apply_event(state, event(BOB, remix, 2), CTX)
    assert touched.assets == (remix.cid, ASSET)


def test_invalid_asset_register_unregistered_author() -> None:
    rejected(StateOverlay(DictState()), event(ALICE, two_holder_asset(), 1), f"{ALICE.did} must register as a participant before sending asset.register")


@pytest.mark.parametrize("roles", [("consumer",), ("model_developer", "app_developer")])
def test_invalid_asset_register_missing_role(roles: tuple[str, ...]) -> None:
    state = fresh(register(CAROL, roles=roles))
    rejected(state, event(CAROL, asset_register(((CAROL.did, 10_000),)), 2), "needs the creator or contributor role")


def test_invalid_duplicate_asset() -> None:
    state = registered()
    rejected(state, event(ALICE, two_holder_asset(), 3), f"asset {ASSET} is already registered")
    # Not by a co-holder either, nor with different metadata for the same content.
    rejected(state, event(BOB, asset_register(((BOB.did, 10_000),)), 2), "is already registered")


def test_invalid_author_not_a_holder() -> None:
    state = fresh(register(ALICE))
    rejected(state, event(ALICE, asset_register(((BOB.did, 10_000),)), 2), "the registering account must be one of the asset's rights holders")


def test_invalid_missing_parent() -> None:
    state = fresh(register(ALICE))
    parent = cid("never registered")
    body = asset_register(parents=(Parent(parent, "stem_of"),), tag="stem", asset_type="stem")
    rejected(state, event(ALICE, body, 2), f"asset {parent} is not registered")


# --- asset.terms ---------------------------------------------------------------------


@pytest.mark.parametrize("holder, nonce", [(ALICE, 3), (BOB, 2)])
def test_asset_terms_by_any_holder(holder: SigningKey, nonce: int) -> None:
    state = registered()
    touched = apply_event(state, event(holder, AssetTerms(ASSET, NEW_TERMS), nonce), LATER)
    assert touched == Touched(assets=(ASSET,), accounts=tuple(dict.fromkeys((holder.did, ALICE.did, BOB.did))))
    record = get_asset(state, ASSET)
    assert record is not None
    assert record.terms == NEW_TERMS.to_wire()
    assert record.terms_since == 9 and record.registered_at == 5
    assert record.registration == {k: v for k, v in two_holder_asset().to_wire().items() if k != "fingerprint"}


def test_invalid_terms_by_non_holder() -> None:
    rejected(registered(), event(CAROL, AssetTerms(ASSET, NEW_TERMS), 2), f"only a rights holder of asset {ASSET} may change its terms")


def test_invalid_terms_of_unknown_asset() -> None:
    unknown = cid("unknown")
    rejected(registered(), event(ALICE, AssetTerms(unknown, NEW_TERMS), 3), f"asset {unknown} is not registered")


def test_invalid_terms_of_withdrawn_asset() -> None:
    state = registered()
    apply_event(state, event(ALICE, AssetWithdraw(ASSET, "gone"), 3), CTX)
    rejected(state, event(BOB, AssetTerms(ASSET, NEW_TERMS), 2), f"asset {ASSET} is withdrawn")


def test_invalid_terms_by_unregistered_author() -> None:
    dave = SigningKey(b"\x04" * 32)
    rejected(registered(), event(dave, AssetTerms(ASSET, NEW_TERMS), 1), "must register as a participant")


# --- asset.withdraw ------------------------------------------------------------------


def test_asset_withdraw() -> None:
    state = registered()
    touched = apply_event(state, event(BOB, AssetWithdraw(ASSET, "dispute"), 2), CTX)
    assert touched.assets == (ASSET,)
    record = get_asset(state, ASSET)
    assert record is not None and record.status == WITHDRAWN


def test_invalid_withdraw_twice() -> None:
    state = registered()
    apply_event(state, event(ALICE, AssetWithdraw(ASSET, ""), 3), CTX)
    rejected(state, event(BOB, AssetWithdraw(ASSET, ""), 2), f"asset {ASSET} is already withdrawn")


def test_invalid_withdraw_by_non_holder() -> None:
    rejected(registered(), event(CAROL, AssetWithdraw(ASSET, ""), 2), f"only a rights holder of asset {ASSET} may withdraw it")


def test_invalid_withdraw_unknown_asset() -> None:
    rejected(registered(), event(ALICE, AssetWithdraw(cid("nope"), ""), 3), "is not registered")


# --- every kind is enabled --------------------------------------------------------------


def test_every_kind_is_enabled() -> None:
    assert set(enabled_kinds()) == set(BODY_TYPES)


# --- overlays ------------------------------------------------------------------------


def test_overlay_reads_through_and_merges() -> None:
    base = DictState({b"k": b"base"})
    overlay = StateOverlay(base)
    child = overlay.child()
    child.put(b"k", b"child")
    assert overlay.get(b"k") == b"base" and child.get(b"k") == b"child"
    overlay.merge(child)
    assert overlay.get(b"k") == b"child"
    assert base.data == {b"k": b"base"}


# --- blocks and the state root -------------------------------------------------------


def block_events() -> list[Event]:
    return [
        register(ALICE, name="Alice"),
        register(BOB, roles=("contributor",), name="Bob"),
        event(ALICE, two_holder_asset(), 2),
        event(BOB, AssetTerms(ASSET, NEW_TERMS), 2),
    ]


def test_apply_block_is_deterministic() -> None:
    first = apply_block(DictState(), block_events(), CTX, PARENT_ROOT)
    second = apply_block(DictState(), block_events(), CTX, PARENT_ROOT)
    assert first.writes == second.writes
    assert first.state_root == second.state_root
    assert first.touched == second.touched
    assert len(first.touched) == 4
    records = {key for key in first.writes if not key.startswith(b"ix/")}  # ix/: query indexes (test_market_*)
    assert records == {account_key(ALICE.did), account_key(BOB.did), asset_key(ASSET)}


def test_apply_block_equals_applying_events_in_turn() -> None:
    result = apply_block(DictState(), block_events(), CTX, PARENT_ROOT)
    assert result.writes == fresh(*block_events()).writes
    assert result.state_root == next_state_root(PARENT_ROOT, result.writes)


def test_state_root_depends_on_writes() -> None:
    full = apply_block(DictState(), block_events(), CTX, PARENT_ROOT)
    shorter = apply_block(DictState(), block_events()[:3], CTX, PARENT_ROOT)
    later = apply_block(DictState(), block_events(), LATER, PARENT_ROOT)
    assert len({full.state_root, shorter.state_root, later.state_root}) == 3


def test_state_root_depends_on_parent_root() -> None:
    assert apply_block(DictState(), block_events(), CTX, PARENT_ROOT).state_root != apply_block(DictState(), block_events(), CTX, b"\x00" * 32).state_root


def test_state_root_depends_on_base_state() -> None:
    base = DictState({account_key(ALICE.did): encoded_account(balance=5)})
    assert apply_block(base, block_events(), CTX, PARENT_ROOT).state_root != apply_block(DictState(), block_events(), CTX, PARENT_ROOT).state_root


def test_next_state_root_ignores_insertion_order() -> None:
    writes = {b"b": b"2", b"a": b"1", b"c": None}
    assert next_state_root(PARENT_ROOT, writes) == next_state_root(PARENT_ROOT, dict(sorted(writes.items())))


def test_next_state_root_formula() -> None:
    writes = {b"b": b"2", b"a": None}
    digest = hashlib.sha256(msgpack.packb([[b"a", None], [b"b", b"2"]], use_bin_type=True)).digest()
    assert next_state_root(PARENT_ROOT, writes) == hashlib.sha256(PARENT_ROOT + digest).digest()


@pytest.mark.parametrize("other", [{}, {b"a": b""}, {b"a": b"2"}, {b"b": None}, {b"a": None, b"b": None}])
def test_next_state_root_distinguishes_writes(other: dict[bytes, bytes | None]) -> None:
    assert next_state_root(PARENT_ROOT, {b"a": None}) != next_state_root(PARENT_ROOT, other)


def test_empty_block() -> None:
    result = apply_block(DictState(), [], CTX, PARENT_ROOT)
    assert result.writes == {} and result.touched == ()
    assert result.state_root == next_state_root(PARENT_ROOT, {}) != PARENT_ROOT


def test_invalid_block_with_rejected_event() -> None:
    events = block_events()
    events.insert(1, register(ALICE, nonce=2))  # registers twice
    base = DictState()
    with pytest.raises(Rejected) as exc:
        apply_block(base, events, CTX, PARENT_ROOT)
    assert exc.value.message.startswith(f"event 1 ({events[1].id.hex()}): ")
    assert "already registered" in exc.value.message
    assert base.data == {}


# --- genesis -------------------------------------------------------------------------


def genesis_wire() -> dict[str, object]:
    return {
        "network_id": "dev",
        "timestamp": 0,
        "authorities": [CAROL.did],
        "block_period_ms": 1000,
        "allocations": {ALICE.did: 1_000, BOB.did: 250},
    }


def test_genesis_writes_allocations_and_authorities() -> None:
    writes = genesis_writes(parse_genesis(genesis_wire()))
    assert set(writes) == {account_key(ALICE.did), account_key(BOB.did), AUTHORITIES_KEY}
    state = DictState(writes)  # type: ignore[arg-type]
    assert get_authorities(state) == (CAROL.did,)
    assert get_account(state, ALICE.did) == Account(balance=1_000)
    assert get_account(state, BOB.did) == Account(balance=250)
    assert get_account(state, CAROL.did) == Account()
    assert decode(writes[account_key(BOB.did)]) == {"nonce": 0, "balance": 250, "name": "", "roles": [], "registered_at": 0}  # type: ignore[arg-type]


def test_genesis_writes_are_deterministic() -> None:
    genesis = parse_genesis(genesis_wire())
    assert genesis_writes(genesis) == genesis_writes(parse_genesis(genesis_wire()))
    assert next_state_root(genesis.hash, genesis_writes(genesis)) == next_state_root(genesis.hash, genesis_writes(genesis))


def test_genesis_account_is_still_unregistered() -> None:
    base = DictState(genesis_writes(parse_genesis(genesis_wire())))  # type: ignore[arg-type]
    rejected(StateOverlay(base), event(ALICE, two_holder_asset(), 1), "must register as a participant")
    state = fresh(register(ALICE), event(ALICE, two_holder_asset(), 2), base=base)
    assert get_account(state, ALICE.did).balance == 1_000
