"""The catalog indexes the asset rules write: words, postings in two orders, facts."""

from __future__ import annotations

import pytest

from protocol.catalog import (
    CATALOG,
    FACTS,
    MAX_WORDS,
    NEWEST,
    TITLE,
    cid_of_sort_key,
    duration_bands,
    expected_index,
    posting_prefix,
    price_class,
    price_classes,
    sort_key,
    words,
)
from protocol.events import AssetTerms, AssetWithdraw
from protocol.records import get_asset
from protocol.terms import ALLOWED, PURCHASE, Terms

from .factories import cid
from .market_world import ALICE, BOB, World, asset


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Night Drive", ["night", "drive"]),
        ("LO-FI beats, lo-fi BEATS!", ["lo", "fi", "beats"]),
        ("a b c dj", ["dj"]),  # one ASCII character is not a word
        ("Café Ünïcode", ["café", "Ünïcode"]),  # only ASCII is lower-cased: the same in every Python
        ("東京 — ナイト、ドライブ", ["東京", "ナイト", "ドライブ"]),  # the em dash and 、 separate words
        ("x" * 40, ["x" * 32]),
        ("", []),
        ("é", ["é"]),
    ],
)
def test_words(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def catalog_keys(world: World, cid_text: str) -> set[bytes]:
    return {key for key in world.data if key.startswith(CATALOG) and key.endswith(cid_text.encode())}


def test_asset_register_writes_postings_in_both_orders() -> None:
    world = World()
    world.send(ALICE, asset("song", ((ALICE, 7_000), (BOB, 3_000)), title="Night Drive", tags=("Synth", "night"), isrc="USRC17607839",
                            terms=Terms.make({"ai_training": (PURCHASE, 10), "data_mining": (ALLOWED, 0)})))
    record = get_asset(world, cid("song"))
    assert record is not None
    keys = catalog_keys(world, cid("song"))
    for field, value in [("all", ""), ("w", "night"), ("w", "drive"), ("w", "synthwave"), ("type", "track"), ("genre", "synthwave"),
                         ("tag", "synth"), ("holder", ALICE.did), ("holder", BOB.did), ("isrc", "USRC17607839"),
                         ("use", "ai_training:10"), ("use", "data_mining:free"), ("len", "120s")]:
        for order in (NEWEST, TITLE):
            assert posting_prefix(field, value, order) + sort_key(record, order) in keys, (field, value, order)
    assert not any(b"use\x00ai_inference" in key for key in keys)
    assert {key for key in world.data if key.startswith(CATALOG) or key.startswith(FACTS)} == set(expected_index([record]))


@pytest.mark.parametrize(
    "low, high, bands",
    [
        (None, None, None),
        (0, None, None),
        (60_000, None, ["60s", "120s", "240s", "480s"]),
        (None, 30_000, ["0s", "10s", "30s"]),
        (45_000, 50_000, ["30s"]),
        (10_000, 29_999, ["10s"]),
    ],
)
def test_duration_bands_of_a_range(low, high, bands) -> None:
    assert duration_bands(low, high) == bands


@pytest.mark.parametrize("mode, price, name", [("allowed", 0, "free"), ("purchase", 1, "1"), ("per_access", 10, "10"),
                                               ("purchase", 11, "100"), ("purchase", 1_000, "1k"), ("purchase", 10**9, "more")])
def test_price_classes(mode, price, name) -> None:
    assert price_class(mode, price) == name
    assert name in price_classes(price)


def test_price_ceilings() -> None:
    assert price_classes(0) == ["free"]
    assert price_classes(5) == ["free", "1", "10"]
    assert price_classes(None) == ["free", "1", "10", "100", "1k", "more"]


def test_newest_order_sorts_later_registrations_first_and_title_order_by_title() -> None:
    world = World()
    world.send(ALICE, asset("one", title="Zebra"))
    world.advance()
    world.send(ALICE, asset("two", title="apple"))
    one, two = get_asset(world, cid("one")), get_asset(world, cid("two"))
    assert one is not None and two is not None
    assert sort_key(two, NEWEST) < sort_key(one, NEWEST)
    assert sort_key(two, TITLE) < sort_key(one, TITLE)
    for record in (one, two):
        for order in (NEWEST, TITLE):
            assert cid_of_sort_key(sort_key(record, order), order) == record.cid


def test_terms_change_moves_only_use_postings_and_facts() -> None:
    world = World()
    world.send(ALICE, asset("song", terms=Terms.make({"ai_training": (PURCHASE, 10)})))
    before = catalog_keys(world, cid("song"))
    world.advance()
    world.send(ALICE, AssetTerms(cid("song"), Terms.make({"data_mining": (ALLOWED, 0)})))
    after = catalog_keys(world, cid("song"))
    assert {key for key in before - after} == {key for key in before if b"use\x00ai_training" in key}
    assert all(b"use\x00data_mining" in key for key in after - before) and len(after - before) == 2
    record = get_asset(world, cid("song"))
    assert {key for key in world.data if key.startswith(CATALOG) or key.startswith(FACTS)} == set(expected_index([record]))  # type: ignore[list-item]


def test_withdraw_removes_the_asset_from_the_catalog() -> None:
    world = World()
    world.send(ALICE, asset("song"))
    world.send(ALICE, asset("other", title="Other"))
    world.send(ALICE, AssetWithdraw(cid("song"), ""))
    assert catalog_keys(world, cid("song")) == set()
    assert world.get(FACTS + cid("song").encode()) is None
    assert catalog_keys(world, cid("other"))


def test_words_per_asset_are_capped() -> None:
    world = World()
    description = " ".join(f"w{i:04d}" for i in range(400))
    world.send(ALICE, asset("long", description=description[:2000]))
    word_postings = [key for key in catalog_keys(world, cid("long")) if key.startswith(CATALOG + b"w\x00")]
    assert len(word_postings) == 2 * MAX_WORDS  # one per order
