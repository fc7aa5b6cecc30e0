"""The market rules on a dict: payments, grants, revocations, purchases and access."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.encoding import decode
from protocol.events import Access, AssetTerms, AssetWithdraw, LicenseGrant, LicensePurchase, LicenseRevoke
from protocol.licenses import MAX_LICENSES_PER_GRANTEE, get_license, held_license_ids, judge_use
from protocol.payments import get_credits, split_payment
from protocol.records import get_account, get_asset
from protocol.royalties import day_of, decode_counters, get_consumer_uses, get_usage, royalty_key
from protocol.terms import ALLOWED, DENIED, PER_ACCESS, PURCHASE, Terms

from .factories import cid, digest
from .market_world import ALICE, BOB, CAROL, DAVE, ERIN, World, asset

SPLIT = ((ALICE, 7_000), (BOB, 3_000))
SONG = cid("song")
SELLS_TRAINING = Terms.make({"ai_training": (PURCHASE, 10), "data_mining": (ALLOWED, 0), "ai_inference": (PER_ACCESS, 3)})


def market(terms: Terms = SELLS_TRAINING) -> World:
    world = World()
    world.send(ALICE, asset("song", SPLIT, terms=terms))
    return world


def access(purpose: str = "ai_training", *, model: bytes | None = None, app: bytes | None = None, tag: str = "song") -> Access:
    return Access(asset=cid(tag), purpose=purpose, model=model, app=app, node="12D3KooWServer", bytes=1_000, max_price=1_000)


def balance(world: World, person) -> int:
    return get_account(world, person.did).balance


# --- splitting a payment -------------------------------------------------------------


@pytest.mark.parametrize(
    "amount, bps, expected",
    [
        (100, [7000, 3000], [70, 30]),
        (10, [7000, 3000], [7, 3]),
        (1, [7000, 3000], [1, 0]),  # fractions 7000 and 3000: the larger takes the credit
        (1, [3000, 7000], [0, 1]),
        (1, [5000, 5000], [1, 0]),  # a tie goes to the holder listed first
        (3, [5000, 5000], [2, 1]),
        (10, [3333, 3333, 3334], [3, 3, 4]),  # remainders 3330, 3330, 3340
        (2, [3333, 3333, 3334], [1, 0, 1]),  # 6666, 6666, 6668: the third, then the first of the tie
        (0, [7000, 3000], [0, 0]),
        (7, [10_000], [7]),
    ],
)
def test_split_payment_largest_remainder(amount: int, bps: list[int], expected: list[int]) -> None:
    shares = [(f"holder{i}", share) for i, share in enumerate(bps)]
    assert split_payment(amount, shares) == [(f"holder{i}", part) for i, part in enumerate(expected)]


@given(
    st.integers(min_value=0, max_value=10**15),
    st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=16),
)
def test_split_payment_pays_out_exactly(amount: int, weights: list[int]) -> None:
    total = sum(weights)
    bps = [w * 10_000 // total for w in weights]
    bps[0] += 10_000 - sum(bps)
    if bps[0] <= 0:
        return
    parts = split_payment(amount, [(str(i), b) for i, b in enumerate(bps)])
    assert sum(part for _, part in parts) == amount
    for (_, part), share in zip(parts, bps):
        assert amount * share // 10_000 <= part <= amount * share // 10_000 + 1


# --- license.grant -------------------------------------------------------------------


def test_license_grant() -> None:
    world = market()
    grant = world.send(BOB, LicenseGrant(SONG, ERIN.did, ("ai_inference",), 0, 2))
    record = get_license(world, grant.id)
    assert record is not None
    assert (record.asset, record.grantee, record.purposes, record.source, record.issuer) == (SONG, ERIN.did, ["ai_inference"], "grant", BOB.did)
    assert record.max_accesses == 2 and record.used == 0 and record.issued_at == world.height
    assert held_license_ids(world, SONG, ERIN.did) == [grant.id]
    assert len(world.keys(b"ix/lh/" + ERIN.did.encode())) == 1 and len(world.keys(b"ix/la/" + SONG.encode())) == 1
    assert world.touched[-1].assets == (SONG,) and world.touched[-1].accounts == (BOB.did, ERIN.did)


def test_invalid_grant_by_non_holder() -> None:
    market().refuse(CAROL, LicenseGrant(SONG, CAROL.did, ("ai_training",), 0, 0), f"only a rights holder of asset {SONG} may grant")


def test_invalid_grant_on_withdrawn_or_unknown_asset() -> None:
    world = market()
    world.refuse(ALICE, LicenseGrant(cid("nothing"), ERIN.did, ("ai_training",), 0, 0), "is not registered")
    world.send(ALICE, AssetWithdraw(SONG, ""))
    world.refuse(ALICE, LicenseGrant(SONG, ERIN.did, ("ai_training",), 0, 0), f"asset {SONG} is withdrawn: no new licenses")


def test_invalid_grant_already_expired() -> None:
    world = market()
    world.refuse(ALICE, LicenseGrant(SONG, ERIN.did, ("ai_training",), world.ts - 1, 0), "would expire at", "before this block's time")


def test_grants_per_grantee_are_capped_but_dead_ones_do_not_count() -> None:
    world = market()
    first = world.send(ALICE, LicenseGrant(SONG, ERIN.did, ("data_mining",), world.ts + 10, 0))
    for _ in range(MAX_LICENSES_PER_GRANTEE - 1):
        world.send(ALICE, LicenseGrant(SONG, ERIN.did, ("data_mining",), 0, 0))
    world.refuse(ALICE, LicenseGrant(SONG, ERIN.did, ("data_mining",), 0, 0), f"already holds {MAX_LICENSES_PER_GRANTEE} licenses in force")
    world.advance(ms=100)  # the first one expires: it leaves the list on the next grant
    world.send(ALICE, LicenseGrant(SONG, ERIN.did, ("data_mining",), 0, 0))
    assert first.id not in held_license_ids(world, SONG, ERIN.did)
    assert get_license(world, first.id) is not None, "the record stays; only the rule's list drops it"


# --- license.revoke ------------------------------------------------------------------


def test_license_revoke_by_a_co_holder() -> None:
    world = market()
    grant = world.send(ALICE, LicenseGrant(SONG, ERIN.did, ("ai_training",), 0, 0))
    world.advance()
    world.send(BOB, LicenseRevoke(grant.id))
    record = get_license(world, grant.id)
    assert record is not None and record.revoked_at == world.height and record.revoked_by == BOB.did


def test_invalid_revoke() -> None:
    world = market()
    grant = world.send(ALICE, LicenseGrant(SONG, ERIN.did, ("ai_training",), 0, 0))
    world.refuse(ERIN, LicenseRevoke(grant.id), f"only a rights holder of asset {SONG} may revoke")
    world.refuse(ALICE, LicenseRevoke(digest("no such license")), "does not exist")
    world.send(ALICE, LicenseRevoke(grant.id))
    world.refuse(BOB, LicenseRevoke(grant.id), "was already revoked at block")


# --- license.purchase ----------------------------------------------------------------


def test_license_purchase_pays_holders_by_share() -> None:
    world = market()
    bought = world.send(CAROL, LicensePurchase(SONG, ("ai_training",), 10))
    assert (balance(world, CAROL), balance(world, ALICE), balance(world, BOB)) == (990, 7, 3)
    record = get_license(world, bought.id)
    assert record is not None and record.source == "purchase" and record.price == 10 and record.grantee == CAROL.did
    assert get_credits(world, CAROL.did) == (0, 10) and get_credits(world, ALICE.did) == (7, 0)
    usage = get_usage(world, SONG, day_of(world.ts))
    assert usage.purchases == 1 and usage.revenue == 10 and usage.accesses == {}
    row = decode_counters(world.get(royalty_key(BOB.did, day_of(world.ts), SONG)))
    assert row.purchases == 1 and row.revenue == 3
    assert world.touched[-1].accounts == (CAROL.did, ALICE.did, BOB.did)


def test_purchase_remainder_goes_to_largest_fraction() -> None:
    world = market(Terms.make({"ai_training": (PURCHASE, 1)}))
    world.send(CAROL, LicensePurchase(SONG, ("ai_training",), 1))
    assert (balance(world, ALICE), balance(world, BOB), balance(world, CAROL)) == (1, 0, 999)


def test_purchase_of_two_purposes_costs_both_prices() -> None:
    world = market(Terms.make({"ai_training": (PURCHASE, 10), "data_mining": (PURCHASE, 5)}))
    world.send(CAROL, LicensePurchase(SONG, ("ai_training", "data_mining"), 15))
    assert balance(world, CAROL) == 985


def test_invalid_purchase() -> None:
    world = market()
    world.refuse(ERIN, LicensePurchase(SONG, ("ai_inference",), 100), "does not sell licenses for ai_inference: its terms say per_access")
    world.refuse(ERIN, LicensePurchase(SONG, ("ai_training",), 9), "costs 10 credits, more than the max_price of 9")
    world.send(DAVE, LicensePurchase(SONG, ("ai_training",), 10))
    world.refuse(DAVE, LicensePurchase(SONG, ("ai_training",), 10), "already holds license", "in force for ai_training")
    poor = World({ERIN.did: 9})
    poor.send(ALICE, asset("song", SPLIT, terms=SELLS_TRAINING))
    poor.refuse(ERIN, LicensePurchase(SONG, ("ai_training",), 10), "costs 10 credits and", "has 9")


def test_invalid_purchase_after_terms_expired_or_withdrawn() -> None:
    world = World()
    world.send(ALICE, asset("song", SPLIT, terms=Terms.make({"ai_training": (PURCHASE, 10)}, expires=world.ts + 500)))
    world.advance(ms=1000)
    world.refuse(CAROL, LicensePurchase(SONG, ("ai_training",), 10), "expired", "nothing is for sale")
    other = market()
    other.send(BOB, AssetWithdraw(SONG, "dispute"))
    other.refuse(CAROL, LicensePurchase(SONG, ("ai_training",), 10), "is withdrawn: no new licenses")


# --- access --------------------------------------------------------------------------


def test_access_allowed_by_terms_is_free_and_counted() -> None:
    world = market()
    world.send(ERIN, access("data_mining"))
    assert balance(world, ERIN) == 37
    assert get_usage(world, SONG, day_of(world.ts)).accesses == {"data_mining": 1}
    row = decode_counters(world.get(royalty_key(ALICE.did, day_of(world.ts), SONG)))
    assert row.accesses == {"data_mining": 1} and row.revenue == 0 and row.paid_accesses == 0
    assert world.touched[-1].assets == (SONG,) and world.touched[-1].accounts == (ERIN.did, ALICE.did, BOB.did)
    assert get_consumer_uses(world, SONG, ERIN.did) == {}, "only training uses are counted per consumer"
    world.send(BOB, access("ai_training"))
    assert get_consumer_uses(world, SONG, BOB.did) == {"ai_training": 1}


def test_access_by_a_rights_holder_needs_no_license() -> None:
    world = market()
    world.send(BOB, access("ai_generative_training"))


def test_invalid_access_without_license() -> None:
    world = market()
    message = world.refuse(ERIN, access("ai_training"), "no license in force for ai_training", f"held by {ERIN.did}", "buy one for 10 credits")
    assert SONG in message
    world.refuse(ERIN, access("application", app=None), "must name the app")
    world.refuse(ERIN, access("ai_generative_training"), "deny ai_generative_training")


def test_access_under_a_purchased_license() -> None:
    world = market()
    bought = world.send(CAROL, LicensePurchase(SONG, ("ai_training",), 10))
    world.send(CAROL, access("ai_training"))
    world.send(CAROL, access("ai_training"))
    record = get_license(world, bought.id)
    assert record is not None and record.used == 2
    assert balance(world, CAROL) == 990, "accesses under a bought license cost nothing more"
    world.refuse(CAROL, access("ai_generative_training"), f"license {bought.id.hex()} covers only ai_training")


def test_access_per_access_charges_every_time() -> None:
    world = market()
    for _ in range(3):
        world.send(ERIN, access("ai_inference"))
    assert (balance(world, ERIN), balance(world, ALICE), balance(world, BOB)) == (28, 6, 3)
    # 3 credits split 7000/3000: 2.1 and 0.9 -> 2 and 0, the remainder to Bob (fraction 9000 > 1000).
    day = day_of(world.ts)
    assert decode_counters(world.get(royalty_key(ALICE.did, day, SONG))).revenue == 6
    assert decode_counters(world.get(royalty_key(BOB.did, day, SONG))).revenue == 3
    assert get_usage(world, SONG, day).paid_accesses == 3


def test_invalid_access_per_access_without_credits() -> None:
    world = World({ERIN.did: 2})
    world.send(ALICE, asset("song", SPLIT, terms=SELLS_TRAINING))
    world.refuse(ERIN, access("ai_inference"), "costs 3 credits and", "has 2")


def test_grant_allows_what_the_terms_deny_within_its_cap() -> None:
    world = market(Terms.make())
    grant = world.send(ALICE, LicenseGrant(SONG, ERIN.did, ("ai_training", "ai_inference"), 0, 2))
    world.send(ERIN, access("ai_training"))
    world.send(ERIN, access("ai_inference"))
    world.refuse(ERIN, access("ai_training"), f"license {grant.id.hex()} has used all 2 of its accesses", "deny ai_training")


def test_invalid_access_after_revoke() -> None:
    world = market()
    grant = world.send(ALICE, LicenseGrant(SONG, ERIN.did, ("ai_training",), 0, 0))
    world.send(ERIN, access("ai_training"))
    world.advance()
    world.send(BOB, LicenseRevoke(grant.id))
    world.refuse(ERIN, access("ai_training"), f"license {grant.id.hex()} was revoked at block {world.height}")


def test_invalid_access_after_license_expiry() -> None:
    world = market()
    grant = world.send(ALICE, LicenseGrant(SONG, ERIN.did, ("ai_training",), world.ts + 1_000, 0))
    world.advance(ms=1_000)
    world.send(ERIN, access("ai_training"))  # at the expiry instant it still applies
    world.advance(ms=1)
    world.refuse(ERIN, access("ai_training"), f"license {grant.id.hex()} expired at {world.ts - 1}")


def test_later_accesses_follow_the_terms_in_force() -> None:
    world = market()
    bought = world.send(CAROL, LicensePurchase(SONG, ("ai_training",), 10))
    world.send(ERIN, access("data_mining"))
    world.send(ALICE, AssetTerms(SONG, Terms.make({"ai_training": (PURCHASE, 10)})))
    world.refuse(ERIN, access("data_mining"), "deny data_mining")
    world.send(CAROL, access("ai_training"))  # what was bought stays bought
    assert get_license(world, bought.id).used == 1  # type: ignore[union-attr]


def test_purchased_license_lasts_as_long_as_the_terms_it_was_bought_under() -> None:
    world = World()
    world.send(ALICE, asset("song", SPLIT, terms=Terms.make({"ai_training": (PURCHASE, 10)}, expires=world.ts + 2_000)))
    bought = world.send(CAROL, LicensePurchase(SONG, ("ai_training",), 10))
    assert get_license(world, bought.id).expires == world.ts + 2_000  # type: ignore[union-attr]
    world.advance(ms=2_001)
    world.refuse(CAROL, access("ai_training"), "expired at")


def test_invalid_access_to_withdrawn_asset_even_with_license() -> None:
    world = market()
    world.send(CAROL, LicensePurchase(SONG, ("ai_training",), 10))
    world.send(ALICE, AssetWithdraw(SONG, "taken down"))
    world.refuse(CAROL, access("ai_training"), f"asset {SONG} is withdrawn: no new use is allowed")


def test_invalid_access_naming_unknown_model_or_app() -> None:
    world = market()
    world.refuse(ERIN, access("data_mining", model=digest("no model")), "model", "is not registered")
    world.refuse(ERIN, access("application", app=digest("no app")), "app", "is not registered")
    world.refuse(ERIN, access("data_mining", tag="other"), f"asset {cid('other')} is not registered")


def test_judge_use_prefers_free_terms_over_a_license() -> None:
    world = market()
    world.send(ALICE, LicenseGrant(SONG, ERIN.did, ("data_mining",), 0, 1))
    record = get_asset(world, SONG)
    assert record is not None
    verdict = judge_use(world, record, ERIN.did, "data_mining", world.ts)
    assert verdict.allowed and verdict.basis == "terms", "a capped grant is not used up where the terms allow freely"
    assert judge_use(world, record, ERIN.did, "ai_training", world.ts).price == 10
    assert judge_use(world, record, ERIN.did, "ai_inference", world.ts).basis == "per_access"
    assert judge_use(world, record, ALICE.did, "ai_generative_training", world.ts).basis == "holder"


def test_rejected_market_event_uses_no_nonce_and_no_credit() -> None:
    world = market()
    world.refuse(ERIN, access("ai_training"))
    assert world.send(ERIN, access("data_mining")).nonce == 2
    assert balance(world, ERIN) == 37
    assert decode(world.get(b"acct/" + ERIN.did.encode()))["nonce"] == 2  # type: ignore[arg-type]
    assert DENIED == "denied"


def test_judge_use_for_nobody_in_particular_names_no_empty_account() -> None:
    world = market()
    record = get_asset(world, SONG)
    assert record is not None
    reason = judge_use(world, record, "", "ai_training", world.ts).reason
    assert "held by" not in reason and "buy one for 10 credits" in reason
