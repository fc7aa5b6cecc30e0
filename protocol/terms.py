"""License terms: per purpose, whether use is denied, allowed, or paid for.

The purposes follow the C2PA / CAWG training-and-data-mining vocabulary, plus
``application`` for live use in a product, so terms map one to one onto content
credentials that users already know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import InvalidEvent
from .fields import FieldReader

PURPOSES = ("ai_training", "ai_generative_training", "ai_inference", "data_mining", "application")
TRAINING_PURPOSES = ("ai_training", "ai_generative_training")

DENIED = "denied"
ALLOWED = "allowed"
PURCHASE = "purchase"
"""Allowed after buying a license at ``price`` credits."""
PER_ACCESS = "per_access"
"""Allowed, paying ``price`` credits on every access."""
MODES = (DENIED, ALLOWED, PURCHASE, PER_ACCESS)
PAID_MODES = (PURCHASE, PER_ACCESS)

MAX_PRICE = 10**15


@dataclass(frozen=True)
class PurposeTerms:
    mode: str
    """One of MODES."""
    price: int = 0
    """Credits; positive exactly when the mode is paid."""

    def to_wire(self) -> dict[str, Any]:
        return {"mode": self.mode, "price": self.price}


def parse_purpose_terms(value: Any, where: str) -> PurposeTerms:
    reader = FieldReader(value, where, InvalidEvent)
    mode = reader.choice("mode", MODES)
    price = reader.integer("price", high=MAX_PRICE)
    reader.done()
    if mode in PAID_MODES and price == 0:
        raise InvalidEvent(f"{where}.price must be positive when mode is {mode}")
    if mode not in PAID_MODES and price != 0:
        raise InvalidEvent(f"{where}.price must be 0 when mode is {mode}")
    return PurposeTerms(mode, price)


@dataclass(frozen=True)
class Terms:
    purposes: tuple[tuple[str, PurposeTerms], ...]
    """Every purpose in PURPOSES, in that order."""
    commercial: bool
    """Commercial use permitted."""
    attribution: bool
    """Users must credit the rights holders."""
    derivatives: bool
    """Derivative works permitted."""
    expires: int
    """Block time (ms) after which no new use is allowed; 0 for never."""

    def for_purpose(self, purpose: str) -> PurposeTerms:
        return dict(self.purposes)[purpose]

    def to_wire(self) -> dict[str, Any]:
        return {
            "purposes": {purpose: terms.to_wire() for purpose, terms in self.purposes},
            "commercial": self.commercial,
            "attribution": self.attribution,
            "derivatives": self.derivatives,
            "expires": self.expires,
        }

    @classmethod
    def make(
        cls,
        modes: dict[str, tuple[str, int]] | None = None,
        *,
        commercial: bool = False,
        attribution: bool = True,
        derivatives: bool = False,
        expires: int = 0,
    ) -> "Terms":
        """Terms with every purpose not named in ``modes`` denied."""
        modes = modes or {}
        unknown = set(modes) - set(PURPOSES)
        if unknown:
            raise InvalidEvent(f"unknown purpose(s): {', '.join(sorted(unknown))}; known: {', '.join(PURPOSES)}")
        purposes = tuple(
            (purpose, parse_purpose_terms({"mode": m, "price": p}, f"terms.{purpose}"))
            for purpose in PURPOSES
            for m, p in [modes.get(purpose, (DENIED, 0))]
        )
        return cls(purposes, commercial, attribution, derivatives, expires)


def parse_terms(value: Any, where: str) -> Terms:
    reader = FieldReader(value, where, InvalidEvent)
    raw_purposes = reader.raw("purposes")
    if not isinstance(raw_purposes, dict) or set(raw_purposes) != set(PURPOSES):
        raise InvalidEvent(f"{where}.purposes must name exactly the purposes {', '.join(PURPOSES)}")
    purposes = tuple(
        (purpose, parse_purpose_terms(raw_purposes[purpose], f"{where}.purposes.{purpose}")) for purpose in PURPOSES
    )
    terms = Terms(
        purposes=purposes,
        commercial=reader.boolean("commercial"),
        attribution=reader.boolean("attribution"),
        derivatives=reader.boolean("derivatives"),
        expires=reader.integer("expires"),
    )
    reader.done()
    return terms
