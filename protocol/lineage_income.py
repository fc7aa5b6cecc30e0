"""Counters of paid model and app use, per UTC day of block time, kept in state as index keys.

Written by the ``usage.record`` rule (protocol/usage.py), so they commit with the block,
are undone with it and are covered by the state root. A *source* is what was used: a
model (``m`` + its id) or an app (``a`` + its id), 33 bytes.

- ``ix/rl/<account> 0x00 <day> <source>``: credits one account received from the use of
  one source on one day, as a model developer or as a rights holder down the lineage
  (a holder's lineage income per model and app);
- ``ix/ua/<asset> 0x00 <day> <source>``: credits paid through one training asset to its
  rights holders (which models and apps paid through an asset);
- ``ix/mu/<source> <day>``: uses, units and credits charged for a source (its usage).

Each row counts ``uses`` (usage.record events), ``units`` (their counts) and
``revenue`` (credits). A statement is one range scan over a key prefix and a day range.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from .encoding import decode_stored, encode
from .records import StateOverlay, StateView
from .royalties import day_bytes

LINEAGE_INCOME = b"ix/rl/"
ASSET_PAID_THROUGH = b"ix/ua/"
SOURCE_USAGE = b"ix/mu/"
MODEL_SOURCE = b"m"
APP_SOURCE = b"a"
SOURCE_BYTES = 33


def source_of(model: bytes | None, app: bytes | None) -> bytes:
    """The source key of a use: the app if one is named, else the model."""
    if app is not None:
        return APP_SOURCE + app
    assert model is not None, "a use names a model or an app"
    return MODEL_SOURCE + model


def parse_source(source: bytes) -> tuple[str, bytes]:
    """("model" or "app", id) of a source key."""
    return ("app" if source[:1] == APP_SOURCE else "model"), source[1:]


@dataclass
class UseCounters:
    uses: int = 0
    units: int = 0
    revenue: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {"uses": self.uses, "units": self.units, "revenue": self.revenue}

    def add(self, other: "UseCounters") -> None:
        self.uses += other.uses
        self.units += other.units
        self.revenue += other.revenue


def decode_use_counters(raw: bytes | None) -> UseCounters:
    return UseCounters() if raw is None else UseCounters(**decode_stored(raw))


def lineage_income_prefix(did: str) -> bytes:
    return LINEAGE_INCOME + did.encode() + b"\x00"


def asset_paid_prefix(cid: str) -> bytes:
    return ASSET_PAID_THROUGH + cid.encode() + b"\x00"


def source_usage_prefix(source: bytes) -> bytes:
    return SOURCE_USAGE + source


def parse_day_source(suffix: bytes) -> tuple[int, bytes]:
    """(day, source) from what follows an account's or an asset's prefix."""
    return struct.unpack(">I", suffix[:4])[0], suffix[4:]


def _bump(state: StateOverlay, key: bytes, units: int, revenue: int) -> None:
    counters = decode_use_counters(state.get(key))
    counters.add(UseCounters(1, units, revenue))
    state.put(key, encode(counters.to_wire()))


def record_paid_use(
    state: StateOverlay,
    source: bytes,
    day: int,
    units: int,
    charged: int,
    by_account: dict[str, int],
    by_asset: dict[str, int],
) -> None:
    """Count one paid use of ``source``: what it charged, and who and which assets were paid."""
    when = day_bytes(day)
    _bump(state, source_usage_prefix(source) + when, units, charged)
    for did, amount in by_account.items():
        _bump(state, lineage_income_prefix(did) + when + source, units, amount)
    for cid, amount in by_asset.items():
        _bump(state, asset_paid_prefix(cid) + when + source, units, amount)


def get_source_usage(state: StateView, source: bytes, day: int) -> UseCounters:
    return decode_use_counters(state.get(source_usage_prefix(source) + day_bytes(day)))
