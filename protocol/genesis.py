"""The genesis: what a network is. Its hash names the network."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .encoding import encode, sha256
from .errors import ProtocolError
from .fields import FieldReader


class InvalidGenesis(ProtocolError):
    code = "invalid_genesis"


@dataclass(frozen=True)
class Genesis:
    network_id: str
    timestamp: int
    """ms since the Unix epoch; slot k of the chain starts at timestamp + k * block_period_ms."""
    authorities: tuple[str, ...]
    """The ordered authority set at height 1: authorities[h % n] is in turn at height h."""
    block_period_ms: int
    allocations: tuple[tuple[str, int], ...]
    """Credits each account starts with, sorted by account."""

    def to_wire(self) -> dict[str, Any]:
        return {
            "network_id": self.network_id,
            "timestamp": self.timestamp,
            "authorities": list(self.authorities),
            "block_period_ms": self.block_period_ms,
            "allocations": {account: amount for account, amount in self.allocations},
        }

    @cached_property
    def hash(self) -> bytes:
        return sha256(encode(self.to_wire()))


def parse_genesis(value: Any) -> Genesis:
    r = FieldReader(value, "genesis", InvalidGenesis)
    network_id = r.text("network_id", min_len=1, max_len=64, pattern=r"[a-z0-9][a-z0-9._-]*", pattern_hint="a lower-case id")
    timestamp = r.integer("timestamp")
    authorities = r.items("authorities", lambda v, w: r.check_did("authorities", v), min_items=1, max_items=64)
    period = r.integer("block_period_ms", low=10, high=3_600_000)
    raw_allocations = r.raw("allocations")
    r.done()
    if not isinstance(raw_allocations, dict):
        raise InvalidGenesis("genesis.allocations must map accounts to credits")
    allocations = []
    for account, amount in sorted(raw_allocations.items()):
        r.check_did("allocations", account)
        if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount < 2**63:
            raise InvalidGenesis(f"genesis.allocations[{account}] must be a positive integer")
        allocations.append((account, amount))
    return Genesis(network_id, timestamp, authorities, period, tuple(allocations))  # type: ignore[arg-type]
