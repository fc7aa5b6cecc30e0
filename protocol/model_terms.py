"""Terms for the use of a model: per purpose denied, allowed or paid per unit, and the
shares of every payment that go down its lineage.

A model's developer sets them with ``model.terms``; until then every use is denied.
``training_share_bps`` is the part of each payment for this model's use owed to the
rights holders of its training assets; ``derivative_share_bps`` is the part of each
payment for a model built directly on this one that this model is owed (how that is
split, and capped, is protocol/lineage_split.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import InvalidEvent
from .fields import FieldReader
from .terms import MAX_PRICE, PURPOSES

TOTAL_BPS = 10_000
DENIED = "denied"
ALLOWED = "allowed"
PER_USE = "per_use"
"""Allowed, paying ``price`` credits for every unit (call, second, track …) used."""
USE_MODES = (DENIED, ALLOWED, PER_USE)


@dataclass(frozen=True)
class UsePrice:
    mode: str
    """One of USE_MODES."""
    price: int = 0
    """Credits per unit; positive exactly when the mode is PER_USE."""

    def to_wire(self) -> dict[str, Any]:
        return {"mode": self.mode, "price": self.price}


def parse_use_price(value: Any, where: str) -> UsePrice:
    reader = FieldReader(value, where, InvalidEvent)
    mode = reader.choice("mode", USE_MODES)
    price = reader.integer("price", high=MAX_PRICE)
    reader.done()
    if (mode == PER_USE) != (price > 0):
        raise InvalidEvent(f"{where}.price must be positive exactly when mode is {PER_USE} (mode {mode}, price {price})")
    return UsePrice(mode, price)


@dataclass(frozen=True)
class ModelTerms:
    purposes: tuple[tuple[str, UsePrice], ...]
    """Every purpose in PURPOSES, in that order."""
    training_share_bps: int
    """Of each payment for this model's use, the part owed to its training data's rights holders."""
    derivative_share_bps: int
    """Of each payment for the use of a model built on this one, the part owed to this model."""

    def for_purpose(self, purpose: str) -> UsePrice:
        return dict(self.purposes)[purpose]

    def to_wire(self) -> dict[str, Any]:
        return {
            "purposes": {purpose: price.to_wire() for purpose, price in self.purposes},
            "training_share_bps": self.training_share_bps,
            "derivative_share_bps": self.derivative_share_bps,
        }

    @classmethod
    def make(
        cls, prices: dict[str, tuple[str, int]] | None = None, *, training_share_bps: int = 0, derivative_share_bps: int = 0
    ) -> "ModelTerms":
        """Terms with every purpose not named in ``prices`` denied."""
        prices = prices or {}
        unknown = set(prices) - set(PURPOSES)
        if unknown:
            raise InvalidEvent(f"unknown purpose(s): {', '.join(sorted(unknown))}; known: {', '.join(PURPOSES)}")
        wire = {
            "purposes": {p: {"mode": prices.get(p, (DENIED, 0))[0], "price": prices.get(p, (DENIED, 0))[1]} for p in PURPOSES},
            "training_share_bps": training_share_bps,
            "derivative_share_bps": derivative_share_bps,
        }
        return parse_model_terms(wire, "model terms")


NO_TERMS = ModelTerms(tuple((purpose, UsePrice(DENIED)) for purpose in PURPOSES), 0, 0)
"""What applies to a model whose developer has set no terms: every use denied."""


def parse_model_terms(value: Any, where: str) -> ModelTerms:
    reader = FieldReader(value, where, InvalidEvent)
    raw_purposes = reader.raw("purposes")
    if not isinstance(raw_purposes, dict) or set(raw_purposes) != set(PURPOSES):
        raise InvalidEvent(f"{where}.purposes must name exactly the purposes {', '.join(PURPOSES)}")
    terms = ModelTerms(
        purposes=tuple((p, parse_use_price(raw_purposes[p], f"{where}.purposes.{p}")) for p in PURPOSES),
        training_share_bps=reader.integer("training_share_bps", high=TOTAL_BPS),
        derivative_share_bps=reader.integer("derivative_share_bps", high=TOTAL_BPS),
    )
    reader.done()
    return terms
