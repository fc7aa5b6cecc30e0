"""Proof-of-authority rules that do not depend on storage: turns, slots and fork choice.

They follow Ethereum's Clique (EIP-225); finality is by votes (``protocol.finality``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from .errors import BlockRule, InvalidBlock

if TYPE_CHECKING:
    from .blocks import Header

IN_TURN_DIFFICULTY = 2
OUT_OF_TURN_DIFFICULTY = 1


def in_turn_authority(authorities: Sequence[str], height: int) -> str:
    return authorities[height % len(authorities)]


def first_slot_after(genesis_ts: int, period_ms: int, parent_ts: int) -> int:
    """The first slot boundary (genesis_ts + k * period) at least one period after ``parent_ts``."""
    return genesis_ts + -(-(parent_ts + period_ms - genesis_ts) // period_ms) * period_ms


def next_slot_time(genesis_ts: int, period_ms: int, parent_ts: int, now_ms: int) -> int:
    """The slot (genesis_ts + k * period) of the block after a parent made at ``parent_ts``.

    It is the first boundary at least one period after the parent. If that is already
    past by less than a period (the parent arrived late), it is kept and the block is
    signed at once. Further in the past (the chain was idle, or blocks run late under
    load), the last boundary at or before now is taken, also signed at once: waiting for
    the next boundary would add up to a period to every late block, and the block after
    it is due a period later again, so a node back from downtime signs no burst of
    back-dated blocks.
    """
    first = first_slot_after(genesis_ts, period_ms, parent_ts)
    if first > now_ms - period_ms:
        return first
    return genesis_ts + (now_ms - genesis_ts) // period_ms * period_ms


MAX_FUTURE_DRIFT_MS = 5_000
"""How far ahead of our clock a block's timestamp may be."""


def signing_window(authority_count: int) -> int:
    """An authority may sign at most one of any ``floor(n/2) + 1`` consecutive blocks."""
    return authority_count // 2 + 1


def is_signing_limited(proposer: str, authority_count: int, recent_proposers: Sequence[str]) -> bool:
    """Whether ``proposer`` signed too recently to sign the next block (``recent_proposers`` newest first)."""
    return proposer in recent_proposers[: signing_window(authority_count) - 1]


def expected_difficulty(authorities: Sequence[str], height: int, proposer: str) -> int:
    """The difficulty a block at ``height`` by ``proposer`` must carry: whether it is signed in turn."""
    return IN_TURN_DIFFICULTY if in_turn_authority(authorities, height) == proposer else OUT_OF_TURN_DIFFICULTY


def validate_not_future(header: "Header", now_ms: int) -> None:
    """Raise InvalidBlock unless ``header`` is dated at most MAX_FUTURE_DRIFT_MS ahead of ``now_ms``."""
    if header.ts > now_ms + MAX_FUTURE_DRIFT_MS:
        raise InvalidBlock(f"block {header.height} is timestamped {header.ts - now_ms} ms in the future", BlockRule.FUTURE)


def validate_header(
    header: "Header",
    *,
    parent_hash: bytes,
    parent_height: int,
    parent_ts: int,
    authorities: Sequence[str],
    recent_proposers: Sequence[str],
    period_ms: int,
    now_ms: int,
) -> None:
    """Check a header against its parent and the authority rules; raise InvalidBlock naming the rule.

    ``recent_proposers`` are the proposers of the parent and its ancestors, newest first.
    The signature, the events root and the state root are checked by
    ``protocol.transition.state_transition``, which calls this first.
    """
    if header.parent != parent_hash or header.height != parent_height + 1:
        raise InvalidBlock(
            f"block {header.height} does not extend block {parent_height} {parent_hash.hex()[:12]}", BlockRule.PARENT
        )
    if header.proposer not in authorities:
        raise InvalidBlock(f"block {header.height} is signed by {header.proposer}, which is not an authority", BlockRule.AUTHORITY)
    expected = expected_difficulty(authorities, header.height, header.proposer)
    if header.difficulty != expected:
        turn = "in turn" if expected == IN_TURN_DIFFICULTY else "out of turn"
        raise InvalidBlock(
            f"block {header.height} is signed {turn} but has difficulty {header.difficulty}, not {expected}",
            BlockRule.DIFFICULTY,
        )
    if is_signing_limited(header.proposer, len(authorities), recent_proposers):
        window = signing_window(len(authorities))
        raise InvalidBlock(
            f"{header.proposer} signed one of the last {window - 1} blocks and may not sign block {header.height}",
            BlockRule.SIGNING_LIMIT,
        )
    if header.ts < parent_ts + period_ms:
        raise InvalidBlock(f"block {header.height} comes less than one block period after its parent", BlockRule.TIMESTAMP)
    validate_not_future(header, now_ms)


@dataclass(frozen=True)
class BranchHead:
    """What fork choice knows of a branch: its head block and the weight behind it."""

    total_difficulty: int
    height: int
    proposer: str
    hash: bytes
    justified_height: int = 0
    """Height of the highest justified block the branch holds (its head or an ancestor)."""


def fork_choice_key(head: BranchHead, authorities: Sequence[str]) -> tuple[int, int, int, int, int]:
    """Sort key of a branch head: the greatest key is the canonical chain.

    0. the branch holding the highest justified block (so a node never leaves a justified
    block for a branch without it: two quorums cannot both justify conflicting blocks at one
    height while fewer than a third of the authorities lie); then EIP-3436:
    1. highest total difficulty; 2. then the lower height (the shorter chain); 3. then by
    EIP-3436's formula ``(height - proposer_index) % n``, larger wins (the proposer whose
    own turn lies furthest back; an in-turn head scores 0); 4. then the lowest hash. Plain Clique
    keeps the first branch it saw on a tie, and sealers on equal branches then wait on
    each other forever (go-ethereum #18402): with these rules every node picks the same
    head from the same two. ``authorities`` is the set the node judges by (a proposer
    outside it is given index n, which scores like index 0).
    """
    count = len(authorities)
    index = authorities.index(head.proposer) if head.proposer in authorities else count
    recency = (head.height - index) % count
    return (head.justified_height, head.total_difficulty, -head.height, recency, -int.from_bytes(head.hash, "big"))


def out_of_turn_delay_ms(authority_count: int, period_ms: int, rng: random.Random) -> int:
    """How long after it has the parent an out-of-turn authority waits before signing.

    Clique waits a random ``rand(0, (n/2 + 1) * 500 ms)``; here the unit scales with the
    block period, and a whole period comes first so that the in-turn block, when its
    authority is up, arrives before anyone else signs even under load (measured: with half
    a period, 1,000 events/s on 2 cores forked every few blocks; a fork costs every node a
    reorg). The price is paid only while an authority is down.
    """
    wiggle = (authority_count // 2 + 1) * period_ms // 4
    return period_ms + rng.randint(0, wiggle)


def alive_window_ms(authority_count: int, period_ms: int, block_interval_ms: int = 0) -> int:
    """How long an authority counts as up after this node last heard from it.

    A healthy authority signs one block in every ``n`` (its turn comes round once a
    rotation), so a window shorter than a rotation would call it down between its own
    blocks; one period more covers a rotation that runs a little late. When blocks come
    slower than that (``block_interval_ms``, the time between recent blocks as this node
    received them: a machine short of CPU), the in-turn block is as slow as its parents
    were, so the window is at least two of those intervals.
    """
    return max((authority_count + 1) * period_ms, 2 * block_interval_ms)


def out_of_turn_sign_time(
    due_slot_ms: int,
    parent_seen_ms: int,
    delay_ms: int,
    *,
    in_turn_heard_ms: int | None,
    in_turn_signed_lately: bool,
    authority_count: int,
    period_ms: int,
    block_interval_ms: int = 0,
) -> int:
    """When an out-of-turn authority may sign the block after a parent it has held since ``parent_seen_ms``.

    ``due_slot_ms`` is the block's first possible slot (``first_slot_after`` the parent),
    fixed for the parent: counting from a slot that follows the clock would put the time
    off again each time it is planned anew.

    The delay counts from when this node had the parent, not from the slot: under load a
    parent arrives after its child's slot has passed, and a timer counted from the slot
    would fire almost at once and race the in-turn block, which its authority only began
    to build on that same late parent (measured: parent import, build, gossip and import
    elsewhere take 2-3 s at 1,200 events/s on 2 cores). An in-turn authority that signed
    its block in the last rotation (``in_turn_signed_lately``), or was heard from lately
    (``in_turn_heard_ms``: something it signed, seen on gossip), is taken to be slow, not
    down: the out-of-turn authority then waits out its alive window, but never longer than
    one alive window after the parent, so one that is up but cannot sign (catching up,
    say) does not stall the chain, and one that went down costs that wait once.
    """
    base = max(due_slot_ms, parent_seen_ms)
    earliest = base + delay_ms
    window = alive_window_ms(authority_count, period_ms, block_interval_ms)
    if in_turn_signed_lately:
        return max(earliest, base + window)
    if in_turn_heard_ms is None:
        return earliest
    return max(earliest, min(in_turn_heard_ms + window, base + window))


def signed_in_last_rotation(authority: str, authority_count: int, recent_proposers: Sequence[str]) -> bool:
    """Whether ``authority`` signed one of the last ``n`` blocks (``recent_proposers`` newest first)."""
    return authority in recent_proposers[:authority_count]
