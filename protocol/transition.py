"""The block transition: one block on one parent, every rule, one result.

After execution-specs' ``state_transition``: ``state_transition`` checks a block's header
against its parent and the authority rules, applies its events to the parent's state and
compares the state root; ``build_block`` makes and signs the block that passes it. The
importer (extending the head and switching branch), the producer and ``audiera-node
verify`` all go through these two, so a rule is added or changed in one place.

Pure: state is read through a ``StateView``, time is passed in, nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Iterable, Protocol, Sequence

from .authorities import get_authorities
from .blocks import Block, Header, compute_events_root, sign_header
from .consensus import expected_difficulty, validate_header
from .errors import BlockRule, InvalidBlock, InvalidSignature, Rejected
from .events import Event
from .finality import HeaderFinality, apply_justifications
from .keys import SigningKey
from .records import BlockContext, StateOverlay, StateView
from .state import BlockResult, apply_block, apply_event, next_state_root
from .votes import Checkpoint, Justification


class ParentTip(Protocol):
    """The block a new block builds on, as far as the rules need it (storage's ChainTip is one)."""

    @property
    def height(self) -> int: ...

    @property
    def hash(self) -> bytes: ...

    @property
    def state_root(self) -> bytes: ...

    @property
    def ts(self) -> int: ...


@dataclass(frozen=True)
class FinalityContext:
    """What checking a block's justifications needs to know of its chain."""

    parent: HeaderFinality
    """The header finality after the parent block."""
    ancestor_hash_at: Callable[[int], bytes | None]
    """The hash of the block at a height below the new block's, on its chain (None if unknown)."""
    authorities_at: Callable[[int], Sequence[str]]
    """The authority set that signs the block at a height on that chain (up to the new block's)."""
    carried_justified: Callable[[Checkpoint], bool]
    """Whether a header of that chain, up to the parent, showed this block justified: a
    justification may build on any of them, not only the latest (see apply_justifications)."""


def state_transition(
    parent: ParentTip,
    state: StateView,
    recent_proposers: Sequence[str],
    block: Block,
    *,
    period_ms: int,
    now_ms: int,
    signature_checked: bool,
    finality: FinalityContext,
) -> BlockResult:
    """Check ``block`` on ``parent`` and apply it to ``state`` (the state after ``parent``).

    Returns what applying it changes; raises InvalidBlock whose ``rule`` names the rule
    broken. ``recent_proposers`` are the proposers of ``parent`` and its ancestors, newest
    first; the authority set is read from ``state``, so a branch is judged by its own votes.

    ``signature_checked`` says the header's signature was already verified with the rest of
    the block's signatures when it was decoded (``decode_block``, or the signature worker
    while syncing, which checks them in another process ahead of import): on the import path
    checking it here again would cost a second verification per block. Whoever decodes with
    ``verify=False`` passes False, and the header's signature is checked here.

    The header's justifications are checked against ``finality`` (``protocol.finality``);
    the result carries the header finality after the block.
    """
    header = block.header
    authorities = _authorities(state, header.height)
    validate_header(
        header,
        parent_hash=parent.hash,
        parent_height=parent.height,
        parent_ts=parent.ts,
        authorities=authorities,
        recent_proposers=recent_proposers,
        period_ms=period_ms,
        now_ms=now_ms,
    )
    carried = apply_justifications(
        finality.parent, header, finality.ancestor_hash_at, finality.authorities_at,
        carried_justified=finality.carried_justified,
    )
    if not signature_checked:
        try:
            header.verify()
        except InvalidSignature as exc:
            raise InvalidBlock(f"block {header.height}: {exc.message}", BlockRule.SIGNATURE) from None
    try:
        result = apply_block(state, block.events, BlockContext(header.height, header.ts), parent.state_root)
    except Rejected as exc:
        raise InvalidBlock(f"block {header.height} carries an event the state refuses: {exc.message}", BlockRule.EVENT) from None
    if result.state_root != header.state_root:
        raise InvalidBlock(
            f"block {header.height}: the state root after applying its events differs from its header", BlockRule.STATE_ROOT
        )
    return replace(result, finality=carried)


@dataclass(frozen=True)
class BuiltBlock:
    """A block ``build_block`` signed, and what came of its candidate events."""

    block: Block
    result: BlockResult
    """What applying the block changes (the same ``state_transition`` returns for it)."""
    refused: tuple[tuple[Event, str], ...]
    """Candidates left out because the state refuses them now, each with the reason."""


def build_block(
    parent: ParentTip,
    state: StateView,
    recent_proposers: Sequence[str],
    candidates: Iterable[Event],
    *,
    key: SigningKey,
    ts: int,
    period_ms: int,
    now_ms: int,
    finality: FinalityContext,
    justifications: tuple[Justification, ...] = (),
) -> BuiltBlock:
    """Sign the block by ``key`` at ``ts`` on ``parent`` that carries every candidate the state takes.

    Candidates are applied in order and those the state refuses are left out. The header
    goes through ``validate_header`` before it is signed, so this never signs a block
    that ``state_transition`` would refuse: it raises InvalidBlock naming the rule instead.
    ``justifications`` (quorums of votes its chain's headers do not carry yet) go into the
    header and are checked as ``state_transition`` checks them.
    """
    height = parent.height + 1
    context = BlockContext(height=height, ts=ts)
    overlay = StateOverlay(state)
    included, touched, refused = [], [], []
    for event in candidates:
        try:
            touched.append(apply_event(overlay, event, context))
        except Rejected as exc:
            refused.append((event, exc.message))
            continue
        included.append(event)
    result = BlockResult(overlay.writes, next_state_root(parent.state_root, overlay.writes), tuple(touched))
    authorities = _authorities(state, height)
    header = Header(
        height=height,
        parent=parent.hash,
        ts=ts,
        proposer=key.did,
        events_root=compute_events_root(included),
        state_root=result.state_root,
        difficulty=expected_difficulty(authorities, height, key.did),
        justifications=justifications,
    )
    validate_header(
        header,
        parent_hash=parent.hash,
        parent_height=parent.height,
        parent_ts=parent.ts,
        authorities=authorities,
        recent_proposers=recent_proposers,
        period_ms=period_ms,
        now_ms=now_ms,
    )
    carried = apply_justifications(
        finality.parent, header, finality.ancestor_hash_at, finality.authorities_at,
        carried_justified=finality.carried_justified,
    )
    block = Block(header=sign_header(key, header), events=tuple(included))
    return BuiltBlock(block, replace(result, finality=carried), tuple(refused))


def _authorities(state: StateView, height: int) -> tuple[str, ...]:
    try:
        return get_authorities(state)
    except Rejected as exc:
        raise InvalidBlock(f"block {height} cannot be judged: {exc.message}", BlockRule.AUTHORITY) from None
