"""Proof-of-authority rules that do not depend on storage: turns, slots and finality.

They follow Ethereum's Clique (EIP-225), plus a finality rule Clique lacks.
"""

from __future__ import annotations

from typing import Iterable, Sequence

IN_TURN_DIFFICULTY = 2
OUT_OF_TURN_DIFFICULTY = 1


def finality_threshold(authority_count: int) -> int:
    """How many distinct authorities must have signed a block or a descendant for it to be final."""
    return authority_count // 2 + 1


def in_turn_authority(authorities: Sequence[str], height: int) -> str:
    return authorities[height % len(authorities)]


def next_slot_time(genesis_ts: int, period_ms: int, parent_ts: int, now_ms: int) -> int:
    """The earliest slot boundary (genesis_ts + k * period) at least one period after the parent and not before now."""
    earliest = max(parent_ts + period_ms, now_ms)
    slots = -(-(earliest - genesis_ts) // period_ms)
    return genesis_ts + slots * period_ms


def finalized_height(recent: Iterable[tuple[int, str]], threshold: int) -> int | None:
    """The highest final height, given (height, proposer) of canonical blocks newest first.

    Walking back from the head, the first block by which ``threshold`` distinct authorities
    have signed it or a descendant is final, and so is everything below it.
    """
    signers: set[str] = set()
    for height, proposer in recent:
        signers.add(proposer)
        if len(signers) >= threshold:
            return height
    return None
