"""Vote finality (Casper FFG with one block per epoch, as BNB Chain's BEP-126 applies it).

Pure rules, no I/O:

- ``quorum(n)``: more than two thirds of the authority set that signs the target block.
- A link s -> t with votes from a quorum of distinct authorities is a supermajority link.
- t is justified when s is justified, s is an ancestor of t and s -> t is a supermajority
  link; genesis is justified. s is final when s is justified and s -> c is a supermajority
  link where c is s's child. Everything below a final block on its chain is final.
- ``apply_justifications`` follows that rule through the justifications headers carry, so
  finality can be checked from headers alone; ``FinalityTracker`` applies the same rule
  to votes seen by gossip as well.
- ``slashable_pair``: two votes no honest voter signs together, as evidence.

The safety argument and the header format are in docs/consensus.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from .errors import BlockRule, InvalidBlock, InvalidSignature
from .evidence import VoteEvidence, vote_evidence
from .votes import MAX_JUSTIFICATIONS, Checkpoint, Justification, Link, Vote, offence

if TYPE_CHECKING:
    from .blocks import Header

__all__ = ["MAX_JUSTIFICATIONS", "quorum", "HeaderFinality", "apply_justifications", "check_supermajority",
           "slashable_pair", "FinalityUpdate", "FinalityTracker"]


def quorum(authority_count: int) -> int:
    """More than two thirds of ``authority_count``: floor(2n/3) + 1."""
    return 2 * authority_count // 3 + 1


@dataclass(frozen=True)
class HeaderFinality:
    """Justification and finality as a chain's headers carry them, up to and including one block."""

    justified: Checkpoint
    """The latest justified block the headers carry a justification for (genesis at first)."""
    final: Checkpoint
    """The latest final block they show."""

    @classmethod
    def genesis(cls, genesis_hash: bytes) -> "HeaderFinality":
        checkpoint = Checkpoint(0, genesis_hash)
        return cls(justified=checkpoint, final=checkpoint)

    def to_wire(self) -> list[Any]:
        return [self.justified.height, self.justified.hash, self.final.height, self.final.hash]

    @classmethod
    def from_wire(cls, wire: list[Any]) -> "HeaderFinality":
        """Read back what ``to_wire`` stored (only this node's own stored records)."""
        justified_height, justified_hash, final_height, final_hash = wire
        return cls(Checkpoint(justified_height, justified_hash), Checkpoint(final_height, final_hash))


def check_supermajority(
    justification: Justification, authorities: Sequence[str], *, verify: bool = True, where: str = "justification"
) -> None:
    """Raise InvalidBlock(JUSTIFICATION) unless its votes are a quorum of ``authorities`` with valid signatures."""
    outsiders = [voter for voter in justification.voters if voter not in authorities]
    if outsiders:
        raise InvalidBlock(
            f"{where} carries a vote by {outsiders[0]}, which is not an authority at height {justification.target_height}",
            BlockRule.JUSTIFICATION,
        )
    if len(set(justification.voters)) != len(justification.voters):
        raise InvalidBlock(f"{where} carries two votes by one authority", BlockRule.JUSTIFICATION)
    needed = quorum(len(authorities))
    if len(justification.votes) < needed:
        raise InvalidBlock(
            f"{where} has {len(justification.votes)} votes; a quorum of {len(authorities)} authorities is {needed}",
            BlockRule.JUSTIFICATION,
        )
    if verify:
        for vote in justification.votes_as_objects():
            try:
                vote.verify()
            except InvalidSignature as exc:
                raise InvalidBlock(f"{where}: {exc.message}", BlockRule.JUSTIFICATION) from None


def apply_justifications(
    prev: HeaderFinality,
    header: "Header",
    ancestor_hash_at: Callable[[int], bytes | None],
    authorities_at: Callable[[int], Sequence[str]],
    *,
    verify: bool = True,
    carried_justified: Callable[[Checkpoint], bool] = lambda checkpoint: False,
) -> HeaderFinality:
    """The header finality after ``header``, given its parent's; raise InvalidBlock(JUSTIFICATION) on a bad one.

    ``ancestor_hash_at(h)`` is the hash of the block at height h on the header's own chain
    (h below the header's height; None if unknown); ``authorities_at(h)`` is the authority
    set that signs the block at height h on that chain; ``carried_justified(c)`` says whether
    an ancestor's header finality (up to the parent's) named ``c`` its justified block.
    Each justification must build on a block the chain's headers show justified (the latest
    one, one an ancestor showed before, or the target of the header's earlier
    justifications), point higher than the latest, at an ancestor of the header, with a
    quorum of valid votes.

    Any justified source, not only the latest: FFG justifies t by a supermajority link from
    any justified ancestor. Requiring the latest deadlocks when votes are lost: some voters
    know s -> t2 justified while the headers already carry t1 (t1 < t2, both from s), so
    t2 can never be carried, those who missed its votes keep voting from t1, the others from
    t2, and no link ever reaches a quorum again (found by the simulation, seed 2).
    """
    justifications = header.justifications
    if len(justifications) > MAX_JUSTIFICATIONS:
        raise InvalidBlock(
            f"block {header.height} carries {len(justifications)} justifications; at most {MAX_JUSTIFICATIONS} are allowed",
            BlockRule.JUSTIFICATION,
        )
    current = prev
    in_header: set[Checkpoint] = set()
    for index, justification in enumerate(justifications):
        where = f"block {header.height} justification {index}"
        source = justification.source
        if source != current.justified and source not in in_header and not (
            ancestor_hash_at(source.height) == source.hash and carried_justified(source)
        ):
            raise InvalidBlock(
                f"{where} builds on {source.describe()}, not on the chain's latest justified block "
                f"{current.justified.describe()} nor on one its headers showed justified before",
                BlockRule.JUSTIFICATION,
            )
        target = justification.target
        if target.height <= current.justified.height:
            raise InvalidBlock(
                f"{where} targets height {target.height}, not above the latest justified block {current.justified.describe()}",
                BlockRule.JUSTIFICATION,
            )
        if target.height >= header.height:
            raise InvalidBlock(f"{where} targets height {target.height}, not an ancestor of the block", BlockRule.JUSTIFICATION)
        if ancestor_hash_at(target.height) != target.hash:
            raise InvalidBlock(f"{where} targets {target.describe()}, which is not on the block's chain", BlockRule.JUSTIFICATION)
        check_supermajority(justification, authorities_at(target.height), verify=verify, where=where)
        finalizes = target.height == source.height + 1 and source.height > current.final.height
        current = HeaderFinality(justified=target, final=source if finalizes else current.final)
        in_header.add(target)
    return current


def slashable_pair(first: Vote, second: Vote) -> VoteEvidence | None:
    """Checked evidence when the two votes are slashable together, else None."""
    if offence(first, second) is None:
        return None
    return vote_evidence(first, second)


@dataclass(frozen=True)
class FinalityUpdate:
    """What adding a vote (or learning of blocks or headers) changed."""

    new: bool = False
    """The vote was not known before (False for a duplicate)."""
    justified: tuple[Checkpoint, ...] = ()
    """Blocks that became justified, lowest first."""
    final: Checkpoint | None = None
    """The new final block, when finality advanced."""
    evidence: tuple[VoteEvidence, ...] = ()


@dataclass
class _LinkVotes:
    votes: dict[str, Vote] = field(default_factory=dict)


class FinalityTracker:
    """Node-local justification and finality: votes seen by gossip and carried in headers, one rule.

    ``parent_of(hash)`` gives the parent of a known block as a Checkpoint (None when the
    block is unknown); ``authorities_for(target)`` the authority set that signs ``target``
    (None when unknown). Votes are taken as their signatures were already checked.
    Links waiting for an unknown block or an unjustified source are settled later, when
    ``settle`` is called after blocks arrive.
    """

    def __init__(
        self,
        genesis: Checkpoint,
        parent_of: Callable[[bytes], Checkpoint | None],
        authorities_for: Callable[[Checkpoint], Sequence[str] | None],
    ) -> None:
        self._parent_of = parent_of
        self._authorities_for = authorities_for
        self._justified: dict[bytes, Checkpoint] = {genesis.hash: genesis}
        self._final = genesis
        self._links: dict[Link, _LinkVotes] = {}
        self._by_voter: dict[str, list[Vote]] = {}

    @property
    def final(self) -> Checkpoint:
        return self._final

    def is_justified(self, checkpoint: Checkpoint) -> bool:
        return self._justified.get(checkpoint.hash) == checkpoint

    def justified(self) -> list[Checkpoint]:
        """Every justified block this tracker holds, highest first."""
        return sorted(self._justified.values(), reverse=True)

    def highest_justified_on(self, head: Checkpoint) -> Checkpoint:
        """The highest justified block that is ``head`` or one of its ancestors."""
        for checkpoint in self.justified():
            if checkpoint.height <= head.height and self.is_ancestor(checkpoint, head):
                return checkpoint
        return self._final

    def votes_for(self, target: Checkpoint) -> list[Vote]:
        """Every vote held whose target is ``target``, by link then voter."""
        found = []
        for link, held in self._links.items():
            if link.target == target:
                found.extend(held.votes[voter] for voter in sorted(held.votes))
        return found

    def link_votes(self, link: Link) -> list[Vote]:
        held = self._links.get(link)
        return [] if held is None else [held.votes[voter] for voter in sorted(held.votes)]

    def has_vote(self, vote: Vote) -> bool:
        held = self._links.get(vote.link)
        return held is not None and held.votes.get(vote.voter) == vote

    def evidence_against(self, vote: Vote) -> tuple[VoteEvidence, ...]:
        """Evidence this (signature-checked) vote makes with the votes held by its voter, without counting it."""
        return tuple(
            found for earlier in self._by_voter.get(vote.voter, ()) if (found := slashable_pair(earlier, vote)) is not None
        )

    def add_vote(self, vote: Vote) -> FinalityUpdate:
        """Count a vote whose signature was checked; returns what it changed and any evidence it gives."""
        held = self._links.setdefault(vote.link, _LinkVotes())
        if vote.voter in held.votes:
            return FinalityUpdate()
        evidence = self.evidence_against(vote)
        held.votes[vote.voter] = vote
        self._by_voter.setdefault(vote.voter, []).append(vote)
        authorities = self._authorities_for(vote.target)
        if authorities is None or len(held.votes) < quorum(len(authorities)):
            # A vote moves only its own link, and that one is short of a quorum: nothing to settle
            # (most votes arrive so; settling walks every link the tracker holds).
            return FinalityUpdate(new=True, evidence=evidence)
        settled = self.settle()
        return FinalityUpdate(new=True, justified=settled.justified, final=settled.final, evidence=evidence)

    def add_header_finality(self, carried: HeaderFinality) -> FinalityUpdate:
        """Take what a valid header chain shows (its justifications were checked on import)."""
        newly = []
        for checkpoint in (carried.final, carried.justified):
            if checkpoint.hash not in self._justified:
                self._justified[checkpoint.hash] = checkpoint
                newly.append(checkpoint)
        final = self._advance_final(carried.final)
        settled = self.settle()
        return FinalityUpdate(
            justified=tuple(newly) + settled.justified,
            final=settled.final or final,
        )

    def settle(self) -> FinalityUpdate:
        """Justify every link that now has a quorum, a justified source and a known target on its chain."""
        newly: list[Checkpoint] = []
        final: Checkpoint | None = None
        progress = True
        while progress:
            progress = False
            for link, held in sorted(self._links.items(), key=lambda item: item[0].target.height):
                if link.target.hash in self._justified or not self.is_justified(link.source):
                    continue
                authorities = self._authorities_for(link.target)
                if authorities is None:
                    continue
                counted = sum(1 for voter in held.votes if voter in authorities)
                if counted < quorum(len(authorities)) or not self.is_ancestor(link.source, link.target):
                    continue
                self._justified[link.target.hash] = link.target
                newly.append(link.target)
                if link.target.height == link.source.height + 1:
                    final = self._advance_final(link.source) or final
                progress = True
        return FinalityUpdate(justified=tuple(newly), final=final)

    def _advance_final(self, checkpoint: Checkpoint) -> Checkpoint | None:
        if checkpoint.height <= self._final.height:
            return None
        self._final = checkpoint
        return checkpoint

    def is_ancestor(self, ancestor: Checkpoint, block: Checkpoint) -> bool:
        """Whether ``ancestor`` is ``block`` or on its chain (False when the blocks between are unknown)."""
        current: Checkpoint | None = block
        while current is not None and current.height > ancestor.height:
            current = self._parent_of(current.hash)
        return current == ancestor

    def prune(self, below_height: int) -> None:
        """Forget votes for targets below ``below_height`` and justified blocks below it, except the final one."""
        self._links = {link: held for link, held in self._links.items() if link.target.height >= below_height}
        self._justified = {
            digest: checkpoint
            for digest, checkpoint in self._justified.items()
            if checkpoint.height >= below_height or checkpoint == self._final
        }
        self._by_voter = {
            voter: kept
            for voter, votes in self._by_voter.items()
            if (kept := [vote for vote in votes if vote.target_height >= below_height])
        }

    def vote_count(self) -> int:
        return sum(len(held.votes) for held in self._links.values())

    def drop_link(self, link: Link) -> list[Vote]:
        """Forget the votes for one link (a pool evicting what it cannot place); returns them."""
        held = self._links.pop(link, None)
        if held is None:
            return []
        for vote in held.votes.values():
            kept = [v for v in self._by_voter.get(vote.voter, []) if v != vote]
            if kept:
                self._by_voter[vote.voter] = kept
            else:
                self._by_voter.pop(vote.voter, None)
        return list(held.votes.values())

    def links(self) -> Iterable[Link]:
        return list(self._links)
