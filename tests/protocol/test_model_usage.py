"""Model terms, paid use of models and apps, the split down the lineage, and price guards."""

from __future__ import annotations

from dataclasses import replace

import pytest

from protocol.encoding import decode
from protocol.errors import InvalidEvent
from protocol.events import AppRegister, AssetTerms, ModelTermsSet, ParticipantRegister, UsageRecord
from protocol.lineage_income import (
    APP_SOURCE,
    MODEL_SOURCE,
    asset_paid_prefix,
    decode_use_counters,
    lineage_income_prefix,
    source_usage_prefix,
)
from protocol.lineage_split import split_model_payment
from protocol.model_terms import ALLOWED, PER_USE, ModelTerms, parse_model_terms
from protocol.payments import split_evenly
from protocol.records import get_account
from protocol.royalties import day_bytes, day_of
from protocol.terms import ALLOWED as ASSET_ALLOWED, PER_ACCESS, Terms

from .factories import cid, key
from .market_world import ALICE, BOB, CAROL, DAVE, ERIN, World, asset, model
from .test_market_rules import access

ADA, BEN, CY, MO = ALICE, BOB, key(21), key(22)
"""Ada and Ben hold 'ab' 70/30, Cy holds 'cy'; Mo develops the base model, Carol the tuned one, Dave the app."""
TRAINABLE = Terms.make({"ai_training": (ASSET_ALLOWED, 0)})
TUNED_TERMS = ModelTerms.make({"ai_inference": (PER_USE, 3)}, training_share_bps=4_000)
BASE_TERMS = ModelTerms.make({"ai_inference": (PER_USE, 1)}, training_share_bps=5_000, derivative_share_bps=2_000)


class Story:
    def __init__(self) -> None:
        self.world = World({CAROL.did: 1_000, DAVE.did: 40_000, ERIN.did: 37})
        world = self.world
        world.send(CY, ParticipantRegister("Cy", ("creator",)))
        world.send(MO, ParticipantRegister("Mo", ("model_developer",)))
        world.send(ADA, asset("ab", ((ADA, 7_000), (BEN, 3_000)), terms=TRAINABLE))
        world.send(CY, asset("cy", ((CY, 10_000),), terms=TRAINABLE))
        self.base = world.send(MO, model([(cid("cy"), None)], name="base")).id
        self.tuned = world.send(CAROL, model([(cid("ab"), None)], base=self.base, name="tuned")).id
        self.app = world.send(DAVE, AppRegister("radio", "1.0", (self.tuned,))).id
        world.send(MO, ModelTermsSet(self.base, BASE_TERMS))
        world.send(CAROL, ModelTermsSet(self.tuned, TUNED_TERMS))
        world.advance()

    def use(self, count: int = 10_000, max_price: int = 30_000, *, app: bool = True, purpose: str = "ai_inference") -> UsageRecord:
        ts = self.world.ts
        return UsageRecord(
            model=None if app else self.tuned, app=self.app if app else None, purpose=purpose,
            count=count, period_start=ts - 86_400_000, period_end=ts, max_price=max_price,
        )


def balances(world: World) -> dict[str, int]:
    return {name: get_account(world, person.did).balance for name, person in
            (("ada", ADA), ("ben", BEN), ("cy", CY), ("mo", MO), ("carol", CAROL), ("dave", DAVE))}


def rows(world: World, prefix: bytes) -> dict[bytes, tuple[int, int, int]]:
    found = {}
    for k in world.keys(prefix):
        counters = decode_use_counters(world.data[k])
        found[k[len(prefix) :]] = (counters.uses, counters.units, counters.revenue)
    return found


def test_the_story_pays_each_person_to_the_unit_by_source() -> None:
    story = Story()
    world = story.world
    before = balances(world)
    world.send(DAVE, story.use())
    after = balances(world)
    # 30,000 charged. Tuned: the base is owed 20% = 6,000, the training data 40% = 12,000
    # (Ada 70% = 8,400, Ben 30% = 3,600), Carol keeps 12,000. Base: of 6,000 its training
    # data is owed 50% = 3,000 (Cy), Mo keeps 3,000.
    paid = {name: after[name] - before[name] for name in after}
    assert paid == {"ada": 8_400, "ben": 3_600, "cy": 3_000, "mo": 3_000, "carol": 12_000, "dave": -30_000}
    day = day_bytes(day_of(world.ts))
    source = APP_SOURCE + story.app
    for person, amount in ((ADA, 8_400), (BEN, 3_600), (CY, 3_000), (MO, 3_000), (CAROL, 12_000)):
        assert rows(world, lineage_income_prefix(person.did)) == {day + source: (1, 10_000, amount)}
    assert rows(world, asset_paid_prefix(cid("ab"))) == {day + source: (1, 10_000, 12_000)}
    assert rows(world, asset_paid_prefix(cid("cy"))) == {day + source: (1, 10_000, 3_000)}
    assert rows(world, source_usage_prefix(source)) == {day: (1, 10_000, 30_000)}
    assert set(world.touched[-1].accounts) == {DAVE.did, ADA.did, BEN.did, CY.did, MO.did, CAROL.did}


def test_use_of_a_model_directly_is_its_own_source() -> None:
    story = Story()
    world = story.world
    world.send(ERIN, story.use(count=12, max_price=36, app=False))
    day = day_bytes(day_of(world.ts))
    assert rows(world, source_usage_prefix(MODEL_SOURCE + story.tuned)) == {day: (1, 12, 36)}
    assert get_account(world, ERIN.did).balance == 1


def test_invalid_use_over_the_max_price_is_refused_and_charges_nothing() -> None:
    story = Story()
    story.world.refuse(DAVE, story.use(max_price=29_999), "10000 units of ai_inference cost 30000 credits", "more than the max_price of 29999")


def test_invalid_use_after_the_developer_raised_the_price_in_the_block_before() -> None:
    story = Story()
    world = story.world
    signed_for = story.use()  # signed at 3 credits a call
    world.send(CAROL, ModelTermsSet(story.tuned, ModelTerms.make({"ai_inference": (PER_USE, 4)}, training_share_bps=4_000)))
    world.advance()
    world.refuse(DAVE, signed_for, "cost 40000 credits", "more than the max_price of 30000")


def test_invalid_access_after_the_holder_raised_the_price_in_the_block_before() -> None:
    world = World()
    world.send(ALICE, asset("song", terms=Terms.make({"ai_inference": (PER_ACCESS, 5)})))
    world.advance()
    signed_for = replace(access("ai_inference"), max_price=5)
    world.send(ALICE, AssetTerms(cid("song"), Terms.make({"ai_inference": (PER_ACCESS, 6)})))
    world.advance()
    before = get_account(world, ERIN.did).balance
    world.refuse(ERIN, signed_for, "costs 6 credits under the terms in force since block", "more than the max_price of 5")
    assert get_account(world, ERIN.did).balance == before
    world.send(ERIN, replace(signed_for, max_price=6))
    assert get_account(world, ERIN.did).balance == before - 6


def test_invalid_use_of_a_model_without_terms_or_with_the_purpose_denied() -> None:
    story = Story()
    world = story.world
    bare = world.send(CAROL, model([], name="bare")).id
    world.refuse(ERIN, UsageRecord(bare, None, "ai_inference", 1, 0, world.ts, 10), "its developer has set no terms for its use")
    world.refuse(DAVE, story.use(purpose="data_mining"), "may not be used for data_mining: its terms (since block")


def test_invalid_model_terms_by_someone_else_or_for_an_unknown_model() -> None:
    story = Story()
    story.world.refuse(DAVE, ModelTermsSet(story.tuned, TUNED_TERMS), "only the developer of model")
    story.world.refuse(CAROL, ModelTermsSet(b"\x01" * 32, TUNED_TERMS), "is not registered")


def test_invalid_use_that_the_payer_cannot_afford_or_in_the_future() -> None:
    story = Story()
    world = story.world
    world.refuse(ERIN, story.use(count=13, max_price=39, app=False), "costs 39 credits", "has 37")
    future = UsageRecord(story.tuned, None, "ai_inference", 1, 0, world.ts + 1, 3)
    world.refuse(ERIN, future, "after this block's time")


def test_free_use_is_counted_and_charges_nothing() -> None:
    story = Story()
    world = story.world
    world.send(CAROL, ModelTermsSet(story.tuned, ModelTerms.make({"ai_inference": (ALLOWED, 0)}, training_share_bps=4_000)))
    world.advance()
    before = balances(world)
    world.send(DAVE, story.use(max_price=0))
    assert balances(world) == before
    assert rows(world, source_usage_prefix(APP_SOURCE + story.app)) == {day_bytes(day_of(world.ts)): (1, 10_000, 0)}


def test_an_app_pays_for_each_of_its_models() -> None:
    story = Story()
    world = story.world
    both = world.send(DAVE, AppRegister("mix", "1.0", (story.tuned, story.base))).id
    world.advance()
    world.refuse(DAVE, UsageRecord(None, both, "ai_inference", 100, 0, world.ts, 399), "cost 400 credits")
    before = balances(world)
    world.send(DAVE, UsageRecord(None, both, "ai_inference", 100, 0, world.ts, 400))
    paid = {name: balances(world)[name] - before[name] for name in before}
    # tuned 300: base 60 (Cy 30, Mo 30), Ada 84, Ben 36, Carol 120; base 100: Cy 50, Mo 50.
    assert paid == {"ada": 84, "ben": 36, "cy": 80, "mo": 80, "carol": 120, "dave": -400}


def test_the_cap_puts_the_base_models_part_first() -> None:
    story = Story()
    world = story.world
    world.send(MO, ModelTermsSet(story.base, ModelTerms.make({"ai_inference": (PER_USE, 1)}, derivative_share_bps=9_000)))
    world.send(CAROL, ModelTermsSet(story.tuned, ModelTerms.make({"ai_inference": (PER_USE, 1)}, training_share_bps=5_000)))
    parts = split_model_payment(world, story.tuned, 1_000)
    by_account = {}
    for part in parts:
        by_account[part.account] = by_account.get(part.account, 0) + part.amount
    # 90% to the base (all Mo's: it gives its training data nothing), 10% left to the training data, Carol 0.
    assert by_account == {CAROL.did: 0, ADA.did: 70, BEN.did: 30, MO.did: 900}
    assert sum(part.amount for part in parts) == 1_000


def test_remainders_stay_with_the_developer_of_the_level_that_rounded() -> None:
    story = Story()
    parts = split_model_payment(story.world, story.tuned, 7)
    # base 20% of 7 = 1 (floor), training 40% of 7 = 2 (Ada 1, Ben 1 by largest remainder), Carol 7 - 1 - 2 = 4;
    # the base's 1: training 50% of 1 = 0, Mo keeps 1.
    amounts = [(part.account, part.amount, part.asset) for part in parts]
    assert amounts == [(CAROL.did, 4, None), (ADA.did, 1, cid("ab")), (BEN.did, 1, cid("ab")), (MO.did, 1, None)]


def test_split_evenly_conserves_and_pays_the_first_first() -> None:
    assert split_evenly(10, 4) == [3, 3, 2, 2]
    assert split_evenly(2, 5) == [1, 1, 0, 0, 0]
    assert sum(split_evenly(10**12 + 7, 1000)) == 10**12 + 7


def test_model_terms_stored_as_signed() -> None:
    story = Story()
    stored = decode(story.world.data[b"mterms/" + story.tuned])
    assert parse_model_terms(stored["terms"], "t") == TUNED_TERMS


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"app": b"\x02" * 32}, "exactly one of model and app"),
        ({"model": None}, "exactly one of model and app"),
        ({"period_start": 11}, "period_start is after period_end"),
        ({"count": 0}, "count must be between 1"),
    ],
)
def test_invalid_usage_record_bodies(changes: dict, fragment: str) -> None:
    wire = UsageRecord(b"\x01" * 32, None, "ai_inference", 5, 0, 10, 15).to_wire()
    wire.update(changes)
    with pytest.raises(InvalidEvent, match=fragment):
        UsageRecord.from_wire(wire)


@pytest.mark.parametrize(
    "purpose, price, fragment",
    [("ai_inference", 0, "must be positive exactly when mode is per_use"), ("data_mining", 5, "must be positive exactly")],
)
def test_invalid_model_terms(purpose: str, price: int, fragment: str) -> None:
    mode = PER_USE if purpose == "ai_inference" else ALLOWED
    with pytest.raises(InvalidEvent, match=fragment):
        ModelTerms.make({purpose: (mode, price)})
    with pytest.raises(InvalidEvent, match="between 0 and 10000"):
        ModelTerms.make(training_share_bps=10_001)
