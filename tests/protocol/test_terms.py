"""License terms: defaults, parsing, and the price rules."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.errors import InvalidEvent
from protocol.terms import (
    ALLOWED,
    DENIED,
    MAX_PRICE,
    MODES,
    PAID_MODES,
    PER_ACCESS,
    PURCHASE,
    PURPOSES,
    PurposeTerms,
    Terms,
    parse_purpose_terms,
    parse_terms,
)


def wire(**changes: Any) -> dict[str, Any]:
    value = Terms.make({"ai_training": (PURCHASE, 100), "ai_inference": (PER_ACCESS, 2), "data_mining": (ALLOWED, 0)}).to_wire()
    value.update(changes)
    return value


def invalid(value: Any, *fragments: str) -> None:
    with pytest.raises(InvalidEvent) as exc:
        parse_terms(value, "terms")
    for fragment in fragments:
        assert fragment in exc.value.message


def test_purposes_are_the_c2pa_vocabulary_plus_application() -> None:
    assert PURPOSES == ("ai_training", "ai_generative_training", "ai_inference", "data_mining", "application")


def test_make_defaults() -> None:
    terms = Terms.make()
    assert [purpose for purpose, _ in terms.purposes] == list(PURPOSES)
    assert all(purpose_terms == PurposeTerms(DENIED, 0) for _, purpose_terms in terms.purposes)
    assert terms.commercial is False
    assert terms.attribution is True
    assert terms.derivatives is False
    assert terms.expires == 0


def test_make_with_modes_denies_the_rest() -> None:
    terms = Terms.make({"ai_training": (PURCHASE, 250), "application": (ALLOWED, 0)}, commercial=True, expires=5)
    assert terms.for_purpose("ai_training") == PurposeTerms(PURCHASE, 250)
    assert terms.for_purpose("application") == PurposeTerms(ALLOWED, 0)
    assert terms.for_purpose("data_mining") == PurposeTerms(DENIED, 0)
    assert terms.commercial is True and terms.expires == 5
    assert [purpose for purpose, _ in terms.purposes] == list(PURPOSES)


def test_make_rejects_unknown_purpose() -> None:
    with pytest.raises(InvalidEvent, match="unknown purpose.*music_video"):
        Terms.make({"music_video": (ALLOWED, 0)})


@pytest.mark.parametrize("mode", PAID_MODES)
def test_make_rejects_paid_mode_without_price(mode: str) -> None:
    with pytest.raises(InvalidEvent, match="ai_training.price must be positive"):
        Terms.make({"ai_training": (mode, 0)})


@pytest.mark.parametrize("mode", [DENIED, ALLOWED])
def test_make_rejects_price_on_free_mode(mode: str) -> None:
    with pytest.raises(InvalidEvent, match="data_mining.price must be 0"):
        Terms.make({"data_mining": (mode, 10)})


def test_wire_round_trip() -> None:
    terms = parse_terms(wire(), "terms")
    assert parse_terms(terms.to_wire(), "terms") == terms
    assert terms.to_wire() == wire()
    assert terms.for_purpose("ai_inference") == PurposeTerms(PER_ACCESS, 2)


def test_terms_are_hashable_values() -> None:
    assert hash(Terms.make()) == hash(Terms.make())
    assert Terms.make() != Terms.make(commercial=True)


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_parses(mode: str) -> None:
    price = 7 if mode in PAID_MODES else 0
    assert parse_purpose_terms({"mode": mode, "price": price}, "p") == PurposeTerms(mode, price)


def test_max_price_allowed() -> None:
    assert parse_purpose_terms({"mode": PURCHASE, "price": MAX_PRICE}, "p").price == MAX_PRICE


@pytest.mark.parametrize("missing", PURPOSES)
def test_invalid_missing_purpose(missing: str) -> None:
    purposes = dict(wire()["purposes"])
    del purposes[missing]
    invalid(wire(purposes=purposes), "terms.purposes must name exactly")


def test_invalid_extra_purpose() -> None:
    purposes = dict(wire()["purposes"], music_video={"mode": DENIED, "price": 0})
    invalid(wire(purposes=purposes), "terms.purposes must name exactly")


@pytest.mark.parametrize("purposes", [[], "all", None, ["ai_training"]])
def test_invalid_purposes_not_a_map(purposes: Any) -> None:
    invalid(wire(purposes=purposes), "terms.purposes")


@pytest.mark.parametrize("mode", PAID_MODES)
def test_invalid_paid_mode_without_price(mode: str) -> None:
    purposes = dict(wire()["purposes"], application={"mode": mode, "price": 0})
    invalid(wire(purposes=purposes), "terms.purposes.application.price must be positive")


@pytest.mark.parametrize("mode", [DENIED, ALLOWED])
def test_invalid_price_only_with_paid_modes(mode: str) -> None:
    purposes = dict(wire()["purposes"], application={"mode": mode, "price": 1})
    invalid(wire(purposes=purposes), "terms.purposes.application.price must be 0")


@pytest.mark.parametrize(
    "purpose_terms, fragment",
    [
        ({"mode": "free", "price": 0}, "application.mode must be one of"),
        ({"mode": 1, "price": 0}, "application.mode must be one of"),
        ({"mode": PURCHASE, "price": MAX_PRICE + 1}, "application.price must be between"),
        ({"mode": PURCHASE, "price": -1}, "application.price must be between"),
        ({"mode": PURCHASE, "price": "5"}, "application.price must be an integer"),
        ({"mode": PURCHASE, "price": True}, "application.price must be an integer"),
        ({"mode": DENIED}, "application.price is missing"),
        ({"price": 0}, "application.mode is missing"),
        ({"mode": DENIED, "price": 0, "note": ""}, "unknown field(s): note"),
        ("denied", "application must be a map"),
    ],
)
def test_invalid_purpose_terms(purpose_terms: Any, fragment: str) -> None:
    purposes = dict(wire()["purposes"], application=purpose_terms)
    invalid(wire(purposes=purposes), fragment)


@pytest.mark.parametrize("field", ["commercial", "attribution", "derivatives"])
def test_invalid_flag_type(field: str) -> None:
    invalid(wire(**{field: 1}), f"terms.{field} must be true or false")


@pytest.mark.parametrize("field", ["purposes", "commercial", "attribution", "derivatives", "expires"])
def test_invalid_missing_field(field: str) -> None:
    value = wire()
    del value[field]
    invalid(value, f"terms.{field} is missing")


def test_invalid_expires() -> None:
    invalid(wire(expires=-1), "terms.expires must be between")
    invalid(wire(expires="never"), "terms.expires must be an integer")


def test_invalid_unknown_field() -> None:
    invalid(wire(royalty=5), "terms has unknown field(s): royalty")


def test_invalid_not_a_map() -> None:
    invalid([], "terms must be a map")
