"""The invariants every run checks, from outside the nodes.

- Safety: no two conflicting blocks are ever final at honest nodes (across all of them).
- No revert: an honest node's final block only moves up its own chain, and its head always
  descends from it.
- Liveness: after the faults stop, every honest node finalizes a block made after the heal
  within ``LIVENESS_BOUND_PERIODS`` block periods.
- Evidence: every byzantine act that an honest node saw both halves of (in one life, while
  its vote pool still held the first) is held as evidence by every honest node at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from protocol.blocks import Header
from protocol.evidence import vote_evidence
from protocol.votes import Checkpoint, Vote, offence

if TYPE_CHECKING:
    from .node import SimNode

LIVENESS_BOUND_PERIODS = 16
"""After the heal, every honest node finalizes a new block within this many block periods."""


@dataclass
class Observer:
    """Watches every node of one run and records what breaks an invariant."""

    heal_at: int = 0
    violations: list[str] = field(default_factory=list)
    blocks: dict[bytes, Header] = field(default_factory=dict)
    """Every block any node made, for ancestry across nodes."""
    highest_final: Checkpoint | None = None
    first_new_final_at: dict[int, int] = field(default_factory=dict)
    """honest node -> when it first finalized a block made after the heal."""
    byzantine_acts: set[Any] = field(default_factory=set)
    """Evidence keys of byzantine acts some honest node saw both halves of."""
    acts_made: int = 0
    _seen_votes: dict[tuple[int, int], list[Vote]] = field(default_factory=dict)
    genesis: Checkpoint | None = None

    def fail(self, message: str) -> None:
        if len(self.violations) < 20:
            self.violations.append(message)

    # --- what nodes report ------------------------------------------------------------------

    def block_made(self, node: "SimNode", header: Header) -> None:
        self.blocks[header.hash] = header

    def finalized(self, node: "SimNode", previous: Checkpoint, final: Checkpoint) -> None:
        if node.byzantine:
            return
        if self._ancestor_at(final.hash, previous.height) != previous.hash:
            self.fail(f"node {node.index} finalized {final.describe()}, which does not descend from its final {previous.describe()}")
        self._check_against_all_final(node, final)
        header = self.blocks.get(final.hash)
        if header is not None and header.ts >= self.heal_at and node.index not in self.first_new_final_at:
            self.first_new_final_at[node.index] = node.scheduler.now

    def after_step(self, node: "SimNode") -> None:
        if node.byzantine or not node.up:
            return
        if not node.descends_from(node.durable.head, node.final):
            self.fail(f"node {node.index} has head {node.head.checkpoint.describe()}, which reverts its final {node.final.describe()}")

    # --- what the network carries -----------------------------------------------------------

    def delivered(self, nodes: list["SimNode"], sender: int, receiver: int, message: Any) -> None:
        """Note byzantine objects an honest node now holds both halves of (before it handles this one)."""
        node = nodes[receiver]
        if node.byzantine:
            return
        kind = message[0]
        if kind == "vote":
            self._note_vote(node, message[1], nodes)
        elif kind in ("block", "blocks"):
            headers = (message[1],) if kind == "block" else message[1]
            for header in headers:
                self._note_header(node, header, nodes)

    def _note_vote(self, node: "SimNode", vote: Vote, nodes: list["SimNode"]) -> None:
        if not nodes[_index_of(nodes, vote.voter)].byzantine:
            return
        seen = self._seen_votes.setdefault((node.index, node.life), [])
        final_height = node.final.height
        if vote.target_height >= final_height:
            for earlier in seen:
                if earlier.target_height >= final_height and earlier != vote and offence(earlier, vote) is not None:
                    found = vote_evidence(earlier, vote)
                    self.byzantine_acts.add(("vote", found.first, found.second))
        if vote not in seen:
            seen.append(vote)

    def _note_header(self, node: "SimNode", header: Header, nodes: list["SimNode"]) -> None:
        if header.parent not in node.durable.blocks or not nodes[_index_of(nodes, header.proposer)].byzantine:
            return
        for other in node.durable.signed_at.get((header.proposer, header.height), ()):
            if other != header.hash:
                self.byzantine_acts.add(("block", header.proposer, header.height))

    # --- end of run -------------------------------------------------------------------------

    def shown_everything(self, nodes: list["SimNode"]) -> bool:
        """Whether every honest node has finalized a block made after the heal and holds every act's evidence."""
        honest = [node for node in nodes if not node.byzantine]
        return all(node.index in self.first_new_final_at for node in honest) and all(
            act in node.durable.evidence for node in honest for act in self.byzantine_acts
        )

    def check_end(self, nodes: list["SimNode"], period_ms: int) -> int | None:
        """Check liveness and evidence; return the worst time to a new final block after the heal, in ms."""
        honest = [node for node in nodes if not node.byzantine]
        bound = LIVENESS_BOUND_PERIODS * period_ms
        worst = None
        for node in honest:
            reached = self.first_new_final_at.get(node.index)
            if reached is None or reached - self.heal_at > bound:
                self.fail(
                    f"node {node.index} finalized no block made after the heal within {LIVENESS_BOUND_PERIODS} periods "
                    f"(final {node.final.describe()}, head {node.head.checkpoint.describe()})"
                )
            else:
                worst = max(worst or 0, reached - self.heal_at)
        for act in sorted(self.byzantine_acts, key=repr):
            missing = [node.index for node in honest if act not in node.durable.evidence]
            if missing:
                self.fail(f"byzantine act {_describe_act(act)} left no evidence at honest nodes {missing}")
        return worst

    def _check_against_all_final(self, node: "SimNode", final: Checkpoint) -> None:
        best = self.highest_final
        if best is None:
            self.highest_final = final
            return
        low, high = (final, best) if final.height <= best.height else (best, final)
        if self._ancestor_at(high.hash, low.height) != low.hash:
            self.fail(f"conflicting final blocks: {low.describe()} and {high.describe()} (node {node.index} finalized {final.describe()})")
            return
        self.highest_final = high

    def _ancestor_at(self, block_hash: bytes, height: int) -> bytes | None:
        current = block_hash
        while True:
            if self.genesis is not None and current == self.genesis.hash:
                return current if height == 0 else None
            header = self.blocks.get(current)
            if header is None or header.height < height:
                return None
            if header.height == height:
                return current
            current = header.parent


def _index_of(nodes: list["SimNode"], did: str) -> int:
    for node in nodes:
        if node.did == did:
            return node.index
    raise KeyError(did)


def _describe_act(act: Any) -> str:
    if act[0] == "block":
        return f"two blocks by {act[1][-8:]} at height {act[2]}"
    first, second = act[1], act[2]
    kind = offence(first, second)
    return f"{kind} by {first.voter[-8:]}: ({first.source_height}->{first.target_height}) and ({second.source_height}->{second.target_height})"
