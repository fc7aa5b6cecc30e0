"""Property tests: no sequence of valid and invalid events creates or destroys credits or breaks an index.

Hypothesis draws sequences of market operations by a few people over a few assets,
many of which the rules refuse (wrong role, no license, too poor, unknown ids, …).
After every step, the invariants below must hold; at the end, replaying the accepted
events block by block must reproduce the same state.
"""

from __future__ import annotations

from itertools import groupby

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.catalog import CATALOG, FACTS, expected_index
from protocol.encoding import decode
from protocol.events import (
    Access,
    AppRegister,
    AssetTerms,
    AssetWithdraw,
    Event,
    LicenseGrant,
    LicensePurchase,
    LicenseRevoke,
    ModelTermsSet,
    UsageRecord,
)
from protocol.licenses import ASSET_INDEX, HELD_INDEX, License, held_license_ids, license_index_keys
from protocol.lineage import MANIFEST, PEOPLE, ModelRecord, trained_on_key
from protocol.lineage_income import ASSET_PAID_THROUGH, LINEAGE_INCOME, SOURCE_USAGE, decode_use_counters
from protocol.model_terms import PER_USE, ModelTerms
from protocol.records import ACTIVE, Account, AssetRecord
from protocol.royalties import ROYALTY, USAGE, decode_counters
from protocol.state import apply_block
from protocol.terms import ALLOWED, PER_ACCESS, PURCHASE, PURPOSES, Terms

from .factories import cid, digest
from .market_world import ALICE, BOB, CAROL, DAVE, ERIN, World, asset, model

PEOPLE_KEYS = (ALICE, BOB, CAROL, DAVE, ERIN)
TAGS = ("t0", "t1", "t2", "t3")
SPLITS = (((0, 10_000),), ((0, 7_000), (1, 3_000)), ((1, 3_333), (0, 3_333), (2, 3_334)))
TERMS = (
    Terms.make(),
    Terms.make({"ai_training": (PURCHASE, 7), "data_mining": (ALLOWED, 0)}),
    Terms.make({"ai_inference": (PER_ACCESS, 3), "ai_training": (PER_ACCESS, 1), "application": (ALLOWED, 0)}),
    Terms.make({purpose: (ALLOWED, 0) for purpose in PURPOSES}),
    Terms.make({"ai_training": (PURCHASE, 2), "ai_generative_training": (PURCHASE, 5)}, expires=1_700_000_004_000),
)
MODEL_TERMS = (
    ModelTerms.make({"ai_inference": (PER_USE, 3), "application": (PER_USE, 1)}, training_share_bps=4_000, derivative_share_bps=2_000),
    ModelTerms.make({"ai_inference": (PER_USE, 7)}, training_share_bps=10_000, derivative_share_bps=9_999),
    ModelTerms.make({"ai_inference": (ALLOWED, 0), "data_mining": (PER_USE, 1)}, training_share_bps=3_333),
)

index = st.integers(min_value=0, max_value=7)
purposes = st.lists(st.sampled_from(PURPOSES), min_size=1, max_size=3, unique=True)
operations = st.one_of(
    st.tuples(st.just("asset"), index, index, index, index),
    st.tuples(st.just("terms"), index, index, index),
    st.tuples(st.just("withdraw"), index, index),
    st.tuples(st.just("grant"), index, index, index, purposes, st.sampled_from([0, 500, 5_000]), st.integers(0, 2)),
    st.tuples(st.just("revoke"), index, index),
    st.tuples(st.just("buy"), index, index, st.one_of(st.just(["ai_training"]), st.just(["ai_generative_training"]), purposes), st.integers(0, 20)),
    st.tuples(st.just("access"), index, index, st.sampled_from(PURPOSES), index, st.booleans()),
    st.tuples(st.just("model"), st.one_of(st.just(2), index), st.lists(index, max_size=3), st.lists(index, max_size=3), index, st.booleans()),
    st.tuples(st.just("app"), st.one_of(st.just(3), index), st.lists(index, min_size=1, max_size=2)),
    st.tuples(st.just("mterms"), st.one_of(st.just(2), index), index, index),
    st.tuples(st.just("use"), index, index, st.booleans(), st.sampled_from(["ai_inference", "application", "data_mining"]),
              st.integers(1, 13), st.integers(0, 60)),
    st.tuples(st.just("advance"), st.sampled_from([1, 400, 3_000])),
)


class Run:
    """Interprets drawn operations: small indices pick people, assets, licenses, models."""

    def __init__(self) -> None:
        self.world = World({CAROL.did: 60, DAVE.did: 25, ERIN.did: 9, ALICE.did: 4})
        self.licenses: list[bytes] = []
        self.models: list[bytes] = []
        self.apps: list[bytes] = []
        # Three assets to trade from the start (draws may add, change and withdraw them).
        self.step(("asset", 0, 0, 1, 1))
        self.step(("asset", 1, 1, 0, 2))
        self.step(("asset", 0, 2, 2, 4))
        # A model trained on t1 with terms, and an app on it, so that drawn uses can be paid.
        self.step(("access", 2, 1, "ai_training", 7, False))
        self.step(("model", 2, [1], [4], 0, False))
        self.step(("mterms", 2, 0, 0))
        self.step(("app", 3, [0]))

    def pick(self, items: list[bytes], i: int) -> bytes:
        return items[i % len(items)] if items and i < 6 else digest(f"unknown {i}")

    def step(self, op: tuple) -> None:
        kind, actor = op[0], PEOPLE_KEYS[op[1] % len(PEOPLE_KEYS)] if len(op) > 1 and op[0] != "advance" else None
        world = self.world
        if kind == "advance":
            world.advance(ms=op[1])
            return
        tag = TAGS[op[2] % len(TAGS)] if kind in ("asset", "terms", "withdraw", "grant", "buy", "access") else None
        if kind == "asset":
            holders = tuple((PEOPLE_KEYS[(op[1] + who) % 5], bps) for who, bps in SPLITS[op[3] % len(SPLITS)])
            body = asset(tag, holders, terms=TERMS[op[4] % len(TERMS)], title=f"Title {op[4]}", description=f"take {op[3]} of {tag}")
            world.attempt(actor, body)
        elif kind == "terms":
            world.attempt(actor, AssetTerms(cid(tag), TERMS[op[3] % len(TERMS)]))
        elif kind == "withdraw":
            world.attempt(actor if op[1] == 0 else ERIN, AssetWithdraw(cid(tag), ""))  # rarely by a holder: keep a market
        elif kind == "grant":
            grantee = PEOPLE_KEYS[op[3] % 5]
            expires = 0 if op[5] == 0 else world.ts + op[5]
            self._remember(self.licenses, world.attempt(actor, LicenseGrant(cid(tag), grantee.did, tuple(op[4]), expires, op[6])))
        elif kind == "revoke":
            world.attempt(PEOPLE_KEYS[op[1] % 2], LicenseRevoke(self.pick(self.licenses, op[2])))  # mostly holders
        elif kind == "buy":
            self._remember(self.licenses, world.attempt(actor, LicensePurchase(cid(tag), tuple(op[3]), op[4])))
        elif kind == "access":
            purpose = op[3]
            ref = self.pick(self.apps if purpose == "application" else self.models, op[4]) if op[5] else None
            app = ref if purpose == "application" else None
            model_ref = None if purpose == "application" else ref
            world.attempt(actor, Access(cid(tag), purpose, model_ref, app, "12D3KooWServer", 1_000, 1_000))
        elif kind == "model":
            entries = {cid(TAGS[i % len(TAGS)]): self._license_for(actor, TAGS[i % len(TAGS)], j) for i, j in zip(op[2], op[3] + [4] * 3)}
            base = self.pick(self.models, op[4]) if op[5] else None
            self._remember(self.models, world.attempt(actor, model(entries.items(), base=base)))
        elif kind == "app":
            models = tuple(dict.fromkeys(self.models[i % len(self.models)] if self.models and i < 7 else digest("x") for i in op[2]))
            self._remember(self.apps, world.attempt(actor, AppRegister("app", "1", models)))
        elif kind == "mterms":
            world.attempt(actor, ModelTermsSet(self.pick(self.models, op[2]), MODEL_TERMS[op[3] % len(MODEL_TERMS)]))
        elif kind == "use":
            self._use(op)

    def _use(self, op: tuple) -> None:
        actor, world = PEOPLE_KEYS[op[1] % 5], self.world
        ref = self.pick(self.apps if op[3] else self.models, op[2])
        body = UsageRecord(None if op[3] else ref, ref if op[3] else None, op[4], op[5], world.ts - 10, world.ts, op[6])
        world.attempt(actor, body)

    def _license_for(self, actor, tag: str, choice: int) -> bytes | None:
        """Mostly a license the actor holds on the asset (the rule's happy path), else none or any."""
        held = held_license_ids(self.world, cid(tag), actor.did)
        if choice < 4 and held:
            return held[choice % len(held)]
        return None if choice < 6 else self.pick(self.licenses, choice - 6)

    @staticmethod
    def _remember(items: list[bytes], event: Event | None) -> None:
        if event is not None:
            items.append(event.id)


def records(world: World, prefix: bytes) -> dict[bytes, object]:
    return {key[len(prefix) :]: decode(value) for key, value in world.data.items() if key.startswith(prefix)}


def check_invariants(world: World) -> None:
    allocations = dict(world.genesis.allocations)
    accounts = {key.decode(): Account(**value) for key, value in records(world, b"acct/").items()}  # type: ignore[arg-type]
    credits = {key.decode(): value for key, value in records(world, b"cred/").items()}
    # Credits are neither created nor destroyed, and every balance is explained.
    assert sum(account.balance for account in accounts.values()) == sum(allocations.values())
    for did, account in accounts.items():
        earned, spent = credits.get(did, (0, 0))  # type: ignore[misc]
        assert account.balance == allocations.get(did, 0) + earned - spent >= 0
    total_spent = sum(spent for _, spent in credits.values())  # type: ignore[misc]
    assert sum(earned for earned, _ in credits.values()) == total_spent  # type: ignore[misc]
    # Usage and royalty counters reconcile with what was paid and earned.
    usage = [decode_counters(world.data[key]) for key in world.keys(USAGE)]
    model_usage = [decode_use_counters(world.data[key]) for key in world.keys(SOURCE_USAGE)]
    assert sum(row.revenue for row in usage) + sum(row.revenue for row in model_usage) == total_spent
    by_holder: dict[str, int] = {}
    for key in world.keys(ROYALTY):
        holder = key[len(ROYALTY) :].split(b"\x00")[0].decode()
        by_holder[holder] = by_holder.get(holder, 0) + decode_counters(world.data[key]).revenue
    for key in world.keys(LINEAGE_INCOME):
        holder = key[len(LINEAGE_INCOME) :].split(b"\x00")[0].decode()
        by_holder[holder] = by_holder.get(holder, 0) + decode_use_counters(world.data[key]).revenue
    # What was paid through training assets is part of what the used sources charged.
    through_assets = sum(decode_use_counters(world.data[key]).revenue for key in world.keys(ASSET_PAID_THROUGH))
    assert through_assets <= sum(row.revenue for row in model_usage)
    for did in set(by_holder) | set(credits):
        assert by_holder.get(did, 0) == credits.get(did, (0, 0))[0], did  # type: ignore[index]
    # The catalog holds exactly the active assets' postings and facts.
    assets = [AssetRecord(**value) for value in records(world, b"asset/").values()]  # type: ignore[arg-type]
    catalog = {key: value for key, value in world.data.items() if key.startswith(CATALOG) or key.startswith(FACTS)}
    assert catalog == expected_index(record for record in assets if record.status == ACTIVE)
    # Licenses: every record is indexed, every index entry and rule list names a real one.
    licenses = {key: License(**value) for key, value in records(world, b"lic/").items()}  # type: ignore[arg-type]
    expected_license_index = {k for lid, record in licenses.items() for k in license_index_keys(lid, record)}
    assert set(world.keys(HELD_INDEX)) | set(world.keys(ASSET_INDEX)) == expected_license_index
    for key, ids in records(world, b"lics/").items():
        asset_id, grantee = key.decode().split("\x00")
        assert all(licenses[lid].asset == asset_id and licenses[lid].grantee == grantee for lid in ids)  # type: ignore[union-attr]
    # Lineage: each model's manifest and people indexes match its record.
    for model_id, value in records(world, b"model/").items():
        record = ModelRecord(**value)  # type: ignore[arg-type]
        entries = world.keys(MANIFEST + model_id)
        assert len(entries) == record.manifest_size
        holders = 0
        for key in entries:
            asset_id = key[len(MANIFEST) + 32 :].decode()
            assert world.get(trained_on_key(asset_id, model_id)) == b""
            holders += len(AssetRecord(**decode(world.data[b"asset/" + asset_id.encode()])).holders)
        assert sum(decode(world.data[key]) for key in world.keys(PEOPLE + model_id)) == holders


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operations, min_size=1, max_size=40))
def test_no_sequence_creates_credits_or_breaks_an_index(ops: list[tuple]) -> None:
    run = Run()
    for op in ops:
        run.step(op)
        check_invariants(run.world)
    # Replaying the accepted events as blocks reaches the very same state.
    replay = World(dict(run.world.genesis.allocations), register=False)
    state = dict(replay.data)
    for context, group in groupby(run.world.log, key=lambda entry: entry[0]):
        result = apply_block(_Dict(state), [event for _, event in group], context, b"\x00" * 32)
        for key, value in result.writes.items():
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
    assert state == run.world.data


def test_the_property_run_exercises_the_market() -> None:
    """A fixed sequence that the random ones build on: it must be accepted step by step."""
    run = Run()
    assert len(run.models) == len(run.apps) == 1, "the starting model and app were accepted"
    for op in [
        ("buy", 2, 0, ["ai_training"], 7),  # Carol buys training on t0 (Alice 70 / Bob 30)
        ("access", 2, 0, "ai_training", 7, False),
        ("model", 2, [0], [0], 0, False),
        ("app", 3, [0]),
        ("grant", 0, 0, 4, ["ai_inference"], 0, 1),
        ("access", 4, 0, "ai_inference", 7, False),
        ("revoke", 1, 1),
        ("access", 2, 1, "ai_training", 7, False),  # Carol pays per access to train on t1 (Bob's)
        ("model", 2, [1], [4], 0, True),  # a model on the first, trained on t1
        ("mterms", 2, 0, 0),
        ("mterms", 2, 1, 0),
        ("advance", 1),
        ("use", 3, 0, True, "ai_inference", 5, 15),  # Dave's app on the first model
        ("use", 4, 1, False, "ai_inference", 1, 7),  # Erin uses the second, built on the first
    ]:
        before = len(run.world.log)
        run.step(op)
        assert len(run.world.log) == before + (op[0] != "advance"), op
        check_invariants(run.world)


class _Dict:
    def __init__(self, data: dict[bytes, bytes]) -> None:
        self.data = data

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)
