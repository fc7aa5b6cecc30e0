"""Importing blocks made elsewhere: every rule checked, fork choice, reorgs, evidence.

Used by sync, block gossip and the RPC. The block has already been decoded strictly,
which verified its signatures and events root (sync has the signature worker check them
before it hands a block in). Every block that becomes canonical goes through
``protocol.transition.state_transition``. Then:

- a block that extends the head is validated on the head's state and appended;
- a block on another branch is kept (cheap checks only: its parent is known, it does not
  fork below the final block, it is not dated in the future); if fork choice prefers its
  branch, the whole branch is validated on the state at the fork point (the current
  state seen through the undo records of the blocks it replaces) and, only if every
  block of it is valid, switched to in one atomic write;
- a second block by one authority at one height is kept as equivocation evidence.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Callable, NoReturn

from protocol.authorities import get_authorities
from protocol.blocks import Block
from protocol.consensus import fork_choice_key, validate_not_future
from protocol.evidence import Equivocation
from protocol.errors import BlockRule, InvalidBlock, ProtocolError
from protocol.state import BlockResult, StateOverlay, StateView
from protocol.transition import FinalityContext, state_transition
from storage.chain import AppliedBlock, ChainTip

from node.bounded_cache import BoundedCache

from .clock import Clock
from .finality_context import BranchView, canonical_finality
from .ledger import Ledger

log = logging.getLogger("audiera.importer")

KNOWN = "known"
EXTENDED = "extended"
SIDE = "side"
REORG = "reorg"

EvidenceListener = Callable[[Equivocation], None]
_BAD_MEMORY = 10_000
_SIDE_HEADS = 64


class UnknownParent(ProtocolError):
    """The block's parent is not stored here: fetch the branch first (not the sender's fault)."""

    code = "unknown_parent"
    status = 409


class BlockImporter:
    def __init__(self, ledger: Ledger, clock: Clock) -> None:
        self._ledger = ledger
        self._clock = clock
        self._bad: BoundedCache[bytes, InvalidBlock] = BoundedCache(_BAD_MEMORY)
        """Blocks refused, each with its refusal, so that it and its descendants are refused at once."""
        self._evidence_listeners: list[EvidenceListener] = []
        self._side_heads: OrderedDict[bytes, tuple[int, int, str]] = OrderedDict()
        """Tips of side branches kept lately: (total difficulty, height, proposer) by hash."""

    def on_evidence(self, listener: EvidenceListener) -> None:
        """Call ``listener`` with each new proof of equivocation (the network gossips them)."""
        self._evidence_listeners.append(listener)

    def import_block(self, block: Block) -> str:
        """Take in ``block``: KNOWN, EXTENDED, SIDE or REORG; raise InvalidBlock naming the rule it breaks."""
        ledger, chain = self._ledger, self._ledger.chain
        header = block.header
        refusal = self._bad.get(block.hash)
        if refusal is not None:
            raise InvalidBlock(f"block {header.height} {block.hash.hex()[:12]} was refused before: {refusal.message}", refusal.rule)
        parent_refusal = self._bad.get(header.parent)
        if parent_refusal is not None:
            self._refuse(block, InvalidBlock(f"its parent was refused: {parent_refusal.message}", BlockRule.PARENT))
        if chain.block_meta(block.hash) is not None:
            return KNOWN
        parent = chain.block_meta(header.parent)
        if parent is None:
            raise UnknownParent(f"block {header.height} builds on {header.parent.hex()[:12]}, which this node does not have")
        if parent.height + 1 != header.height:
            self._refuse(block, InvalidBlock(f"its height is not its parent's plus one ({parent.height} + 1)", BlockRule.PARENT))
        self._check_equivocation(block)
        if header.parent == ledger.head.hash:
            self._extend(block)
            return EXTENDED
        if header.height <= ledger.finalized.height:
            raise InvalidBlock(
                f"block {header.height} forks below the final block {ledger.finalized.height}: final blocks are never reverted",
                BlockRule.FINALITY,
            )
        # Whether the proposer is an authority depends on the branch's own state (a vote on
        # that branch may have added it): that is checked when the branch is validated in
        # full, on the state at its fork point. Here the block is only kept.
        validate_not_future(header, self._clock())
        total = parent.total_difficulty + header.difficulty
        chain.store_side_block(block, total)
        self._side_heads.pop(header.parent, None)
        self._side_heads[block.hash] = (total, header.height, header.proposer)
        while len(self._side_heads) > _SIDE_HEADS:
            self._side_heads.popitem(last=False)
        if not ledger.prefers(ledger.branch(total, header.height, header.proposer, block.hash)):
            log.info("kept block %d %s on a side branch", header.height, block.hash.hex()[:12])
            return SIDE
        self._switch_to(block)
        return REORG

    def reconsider(self) -> str | None:
        """Switch to a side branch kept here if fork choice now prefers it (votes justified one of
        its blocks after it arrived); REORG if it did, else None."""
        ledger, chain = self._ledger, self._ledger.chain
        best = None
        for block_hash, (total, height, proposer) in list(self._side_heads.items()):
            if chain.is_canonical(block_hash, height) or height <= ledger.finalized.height:
                continue
            candidate = ledger.branch(total, height, proposer, block_hash)
            if ledger.prefers(candidate) and (best is None or fork_choice_key(candidate, ledger.authorities) > fork_choice_key(best, ledger.authorities)):
                best = candidate
        if best is None:
            return None
        block = chain.get_block(best.hash)
        if block is None:
            return None
        try:
            self._switch_to(block)
        except InvalidBlock as exc:
            log.warning("could not switch to the branch of block %d: %s", best.height, exc.message)
            return None
        return REORG

    # --- appending on the head ------------------------------------------------------------

    def _extend(self, block: Block) -> None:
        ledger = self._ledger
        try:
            finality = canonical_finality(ledger.chain, ledger.head, ledger.authorities)
            result = self._transition(ledger.head, ledger.chain, ledger.recent_proposers(), block, finality)
        except InvalidBlock as exc:
            self._refuse(block, exc)
        ledger.append(block, result)

    def _transition(
        self, parent: ChainTip, state: StateView, recent_proposers: list[str], block: Block, finality: FinalityContext
    ) -> BlockResult:
        # Every caller of import_block verified the block's signatures when decoding it.
        return state_transition(
            parent,
            state,
            recent_proposers,
            block,
            period_ms=self._ledger.genesis.block_period_ms,
            now_ms=self._clock(),
            signature_checked=True,
            finality=finality,
        )

    # --- switching branch -------------------------------------------------------------------

    def _switch_to(self, target: Block) -> None:
        ledger, chain = self._ledger, self._ledger.chain
        branch = [target]
        while not chain.is_canonical(branch[0].header.parent, branch[0].height - 1):
            parent = chain.get_block(branch[0].header.parent)
            if parent is None:
                raise InvalidBlock(f"block {branch[0].height - 1} of the branch is missing from the store")
            branch.insert(0, parent)
        fork_height = branch[0].height - 1
        if fork_height < ledger.finalized.height:
            raise InvalidBlock(
                f"the branch of block {target.height} would revert final block {ledger.finalized.height}", BlockRule.FINALITY
            )
        revert = []
        for height in range(ledger.head.height, fork_height, -1):
            block_hash = chain.hash_at(height)
            old = chain.get_block(block_hash) if block_hash is not None else None
            if old is None:
                raise InvalidBlock(f"canonical block {height} is missing from the store")
            revert.append(old)
        # The state at the fork point: what the reverted blocks overwrote, over the current state.
        undone: dict[bytes, bytes | None] = {}
        for old in revert:  # head first, so the oldest block's undo value wins
            undone.update(chain.undo_writes(old.hash))
        state = StateOverlay(chain)
        state.writes.update(undone)
        proposers = ledger.recent_proposers()[len(revert):]
        parent = chain.tip_of(branch[0].header.parent)
        fork_record = chain.block_finality(parent.hash)
        if fork_record is None:
            raise InvalidBlock(f"the fork point of block {target.height}'s branch has no finality record")
        carried, on_branch = fork_record.finality, BranchView(chain, fork_height)
        applied = []
        for block in branch:
            try:
                finality = FinalityContext(
                    carried, on_branch.hash_at, on_branch.authorities_at_fn(get_authorities(state)), on_branch.carried_justified
                )
                result = self._transition(parent, state, proposers, block, finality)
            except InvalidBlock as exc:
                for later in branch[branch.index(block):]:
                    self._bad.put(later.hash, exc)
                raise InvalidBlock(
                    f"branch to block {target.height} refused at block {block.height}: {exc.message}", exc.rule
                ) from None
            meta = chain.block_meta(block.hash)
            undo = {key: state.get(key) for key in result.writes}
            applied.append(AppliedBlock(block, result, undo, meta.total_difficulty if meta else 0))
            state = StateOverlay(state)
            state.writes.update(result.writes)
            carried = result.finality or carried
            on_branch.add(block, get_authorities(state), carried)
            proposers.insert(0, block.header.proposer)
            parent = ChainTip(block.height, block.hash, block.header.state_root, block.header.ts)
        log.warning(
            "reorg at height %d: %d block(s) reverted, %d applied; head %d %s",
            fork_height, len(revert), len(applied), target.height, target.hash.hex()[:12],
        )
        ledger.switch(revert, applied)

    # --- evidence and refusals --------------------------------------------------------------

    def _check_equivocation(self, block: Block) -> None:
        header = block.header
        chain = self._ledger.chain
        for other_hash in chain.signed_at(header.proposer, header.height):
            if other_hash == block.hash:
                continue
            found = chain.get_header_and_event_ids(other_hash)
            if found is not None:
                self.record_evidence(Equivocation(found[0], header))
                return

    def record_evidence(self, evidence: Equivocation) -> bool:
        """Keep a verified proof of equivocation (found here or gossiped); True if it is new."""
        if not self._ledger.chain.put_evidence(evidence.proposer, evidence.height, evidence.header_bytes()):
            return False
        log.warning("equivocation: %s signed two blocks at height %d", evidence.proposer, evidence.height)
        for listener in self._evidence_listeners:
            listener(evidence)
        return True

    def _refuse(self, block: Block, reason: InvalidBlock) -> NoReturn:
        self._bad.put(block.hash, reason)
        raise InvalidBlock(f"block {block.height} {block.hash.hex()[:12]} refused: {reason.message}", reason.rule)

