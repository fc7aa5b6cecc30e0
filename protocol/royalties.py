"""Usage and royalty counters, per UTC day of block time, kept in state as index keys.

Two key spaces, both written by the rules that charge or log a use, so they commit
with the block, are undone with it, and are covered by the state root:

- ``ix/us/<asset> 0x00 <day>``: per asset and day, accesses by purpose, paid accesses,
  purchases and the credits paid (usage over time);
- ``ix/ry/<holder> 0x00 <day> <asset>``: per rights holder, day and asset, the same
  counts and the credits this holder received (royalty statements).

A statement for a period is one range scan over the holder's keys; nothing is recounted.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from .encoding import decode_stored, encode
from .records import StateOverlay, StateView

DAY_MS = 86_400_000
USAGE = b"ix/us/"
ROYALTY = b"ix/ry/"


def day_of(ts: int) -> int:
    """The UTC day number (days since 1970-01-01) of a block time in ms."""
    return ts // DAY_MS


def day_bytes(day: int) -> bytes:
    return struct.pack(">I", day)


def usage_prefix(cid: str) -> bytes:
    return USAGE + cid.encode() + b"\x00"


def usage_key(cid: str, day: int) -> bytes:
    return usage_prefix(cid) + day_bytes(day)


def royalty_prefix(did: str) -> bytes:
    return ROYALTY + did.encode() + b"\x00"


def royalty_key(did: str, day: int, cid: str) -> bytes:
    return royalty_prefix(did) + day_bytes(day) + cid.encode()


def parse_royalty_suffix(suffix: bytes) -> tuple[int, str]:
    """(day, asset) from what follows ``royalty_prefix``."""
    return struct.unpack(">I", suffix[:4])[0], suffix[4:].decode()


@dataclass
class Counters:
    accesses: dict[str, int] = field(default_factory=dict)
    """Accesses by purpose."""
    paid_accesses: int = 0
    purchases: int = 0
    revenue: int = 0
    """Credits: paid in total (usage rows) or received by one holder (royalty rows)."""
    purchase_revenue: int = 0
    """The part of ``revenue`` paid for licenses (the rest was paid per access)."""

    def to_wire(self) -> dict[str, Any]:
        return {
            "accesses": dict(sorted(self.accesses.items())),
            "paid_accesses": self.paid_accesses,
            "purchases": self.purchases,
            "revenue": self.revenue,
            "purchase_revenue": self.purchase_revenue,
        }

    def add(self, other: "Counters") -> None:
        for purpose, count in other.accesses.items():
            self.accesses[purpose] = self.accesses.get(purpose, 0) + count
        self.paid_accesses += other.paid_accesses
        self.purchases += other.purchases
        self.revenue += other.revenue
        self.purchase_revenue += other.purchase_revenue


def decode_counters(raw: bytes | None) -> Counters:
    return Counters() if raw is None else Counters(**decode_stored(raw))


def _bump(state: StateOverlay, key: bytes, purpose: str | None, purchase: bool, revenue: int, paid: bool) -> None:
    counters = decode_counters(state.get(key))
    if purpose is not None:
        counters.accesses[purpose] = counters.accesses.get(purpose, 0) + 1
    counters.paid_accesses += int(paid)
    counters.purchases += int(purchase)
    counters.revenue += revenue
    counters.purchase_revenue += revenue if purchase else 0
    state.put(key, encode(counters.to_wire()))


def record_use(
    state: StateOverlay,
    cid: str,
    ts: int,
    parts: list[tuple[str, int]],
    *,
    purpose: str | None = None,
    purchase: bool = False,
) -> None:
    """Count one access (``purpose``) or one purchase of ``cid``; ``parts`` is each holder's payment."""
    day = day_of(ts)
    total = sum(part for _, part in parts)
    paid = purpose is not None and total > 0
    _bump(state, usage_key(cid, day), purpose, purchase, total, paid)
    for holder, part in parts:
        _bump(state, royalty_key(holder, day, cid), purpose, purchase, part, paid)


def get_usage(state: StateView, cid: str, day: int) -> Counters:
    return decode_counters(state.get(usage_key(cid, day)))


# Per consumer and asset, training accesses by purpose: read by the rule that lets a model
# name an asset it paid to access per use for training.


def consumer_uses_key(cid: str, did: str) -> bytes:
    return b"seen/" + cid.encode() + b"\x00" + did.encode()


def get_consumer_uses(state: StateView, cid: str, did: str) -> dict[str, int]:
    raw = state.get(consumer_uses_key(cid, did))
    return {} if raw is None else decode_stored(raw)


def count_consumer_use(state: StateOverlay, cid: str, did: str, purpose: str) -> None:
    uses = get_consumer_uses(state, cid, did)
    uses[purpose] = uses.get(purpose, 0) + 1
    state.put(consumer_uses_key(cid, did), encode(dict(sorted(uses.items()))))
