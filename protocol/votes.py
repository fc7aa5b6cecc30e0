"""Finality votes: an authority's signed word that a block is on the chain it follows.

A vote names its *target* (the block voted for) and its *source* (the latest justified
block the voter knows on the target's chain): the pair is the link of Casper FFG.
Votes are signed over ``Domain.VOTE`` + the canonical encoding of the unsigned vote, so
a vote signature is never valid for a header or an event. A ``Justification`` is the
compact form of a quorum of votes for one link, carried in a block header; the rules
that count them are in ``protocol.finality``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Any

from .encoding import decode, encode
from .errors import DecodeError, InvalidBlock, ProtocolError
from .fields import FieldReader
from .keys import SIGNATURE_SIZE, Domain, SignatureCheck, SigningKey

VOTE_VERSION = 1
MAX_VOTE_BYTES = 512
"""A vote encodes to about 200 bytes; anything far larger is not one."""
MAX_JUSTIFICATIONS = 4
"""Justifications one header may carry."""
MAX_JUSTIFICATION_VOTES = 256
"""More votes than any authority set this network runs with; bounds a header's size."""


class InvalidVote(ProtocolError):
    """A vote that is malformed, or whose signature does not verify."""

    code = "invalid_vote"


@dataclass(frozen=True, order=True)
class Checkpoint:
    """A block as votes name it: its height and hash."""

    height: int
    hash: bytes

    def describe(self) -> str:
        return f"{self.height} {self.hash.hex()[:12]}"


@dataclass(frozen=True)
class Link:
    """source -> target: what a vote says, and what a quorum of votes makes a supermajority link."""

    source: Checkpoint
    target: Checkpoint


class _LinkFields:
    """The checkpoints of an object that names a source and a target by height and hash."""

    source_height: int
    source_hash: bytes
    target_height: int
    target_hash: bytes

    @property
    def source(self) -> Checkpoint:
        return Checkpoint(self.source_height, self.source_hash)

    @property
    def target(self) -> Checkpoint:
        return Checkpoint(self.target_height, self.target_hash)

    @property
    def link(self) -> Link:
        return Link(self.source, self.target)


@dataclass(frozen=True)
class Vote(_LinkFields):
    voter: str
    """did:key of the authority that signed it."""
    target_height: int
    target_hash: bytes
    source_height: int
    """Below ``target_height``."""
    source_hash: bytes
    """The latest justified block the voter knows on the target's chain."""
    sig: bytes = b""
    v: int = VOTE_VERSION

    def unsigned_wire(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "voter": self.voter,
            "target_height": self.target_height,
            "target_hash": self.target_hash,
            "source_height": self.source_height,
            "source_hash": self.source_hash,
        }

    def to_wire(self) -> dict[str, Any]:
        wire = self.unsigned_wire()
        wire["sig"] = self.sig
        return wire

    def signature_check(self) -> SignatureCheck:
        return SignatureCheck(Domain.VOTE, encode(self.unsigned_wire()), self.sig, self.voter)

    def verify(self) -> None:
        """Raise InvalidSignature unless ``voter`` signed this vote."""
        self.signature_check().run()


def unsigned_vote(voter: str, source: Checkpoint, target: Checkpoint) -> Vote:
    return Vote(
        voter=voter,
        target_height=target.height,
        target_hash=target.hash,
        source_height=source.height,
        source_hash=source.hash,
    )


def sign_vote(key: SigningKey, unsigned: Vote) -> Vote:
    if unsigned.voter != key.did:
        raise InvalidVote("a vote must be signed by its voter")
    return replace(unsigned, sig=key.sign(Domain.VOTE, encode(unsigned.unsigned_wire())))


def parse_vote(value: Any) -> Vote:
    """A vote from its wire map; raises InvalidVote naming the field at fault. Does not verify."""
    r = FieldReader(value, "vote", InvalidVote)
    version = r.integer("v")
    if version != VOTE_VERSION:
        raise InvalidVote(f"vote version {version} is not supported")
    vote = Vote(
        v=version,
        voter=r.did("voter"),  # type: ignore[arg-type]
        target_height=r.integer("target_height", low=1),
        target_hash=r.digest("target_hash"),  # type: ignore[arg-type]
        source_height=r.integer("source_height"),
        source_hash=r.digest("source_hash"),  # type: ignore[arg-type]
        sig=r.raw("sig"),
    )
    r.done()
    if not isinstance(vote.sig, bytes) or len(vote.sig) != SIGNATURE_SIZE:
        raise InvalidVote(f"vote.sig must be {SIGNATURE_SIZE} bytes")
    if vote.source_height >= vote.target_height:
        raise InvalidVote(f"vote.source_height {vote.source_height} must be below target_height {vote.target_height}")
    return vote


def encode_vote(vote: Vote) -> bytes:
    return encode(vote.to_wire())


def decode_vote(data: bytes, *, verify: bool = True) -> Vote:
    """Strictly decode a vote and (``verify``) check its signature; raise InvalidVote if not."""
    if len(data) > MAX_VOTE_BYTES:
        raise InvalidVote(f"a vote of {len(data)} bytes is over the {MAX_VOTE_BYTES}-byte limit")
    try:
        vote = parse_vote(decode(data))
    except DecodeError as exc:
        raise InvalidVote(f"vote does not decode: {exc.message}") from None
    if verify:
        try:
            vote.verify()
        except ProtocolError as exc:
            raise InvalidVote(f"vote by {vote.voter}: {exc.message}") from None
    return vote


class Offence(enum.StrEnum):
    """What makes two votes by one voter slashable."""

    DOUBLE = "double_vote"
    """Two different targets at one height."""
    SURROUND = "surround_vote"
    """One vote's link strictly surrounds the other's: s1 < s2 < t2 < t1."""


def offence(first: Vote, second: Vote) -> Offence | None:
    """The rule two votes break together, or None (an honest voter never signs such a pair)."""
    if first.voter != second.voter:
        return None
    if first.target_height == second.target_height and first.target_hash != second.target_hash:
        return Offence.DOUBLE
    if _surrounds(first, second) or _surrounds(second, first):
        return Offence.SURROUND
    return None


def _surrounds(outer: Vote, inner: Vote) -> bool:
    return outer.source_height < inner.source_height and inner.target_height < outer.target_height


@dataclass(frozen=True)
class Justification(_LinkFields):
    """A quorum of votes for one link, as a header carries it: the link once, then each (voter, sig)."""

    source_height: int
    source_hash: bytes
    target_height: int
    target_hash: bytes
    votes: tuple[tuple[str, bytes], ...]
    """(voter, sig), sorted by voter, each voter once."""

    @property
    def voters(self) -> tuple[str, ...]:
        return tuple(voter for voter, _ in self.votes)

    def votes_as_objects(self) -> tuple[Vote, ...]:
        """Each vote as its voter signed it, so that its signature can be checked."""
        return tuple(
            Vote(
                voter=voter,
                target_height=self.target_height,
                target_hash=self.target_hash,
                source_height=self.source_height,
                source_hash=self.source_hash,
                sig=sig,
            )
            for voter, sig in self.votes
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "source_height": self.source_height,
            "source_hash": self.source_hash,
            "target_height": self.target_height,
            "target_hash": self.target_hash,
            "votes": [[voter, sig] for voter, sig in self.votes],
        }


def justification_from_votes(votes: list[Vote] | tuple[Vote, ...]) -> Justification:
    """The header form of votes for one link (one per voter); raises InvalidVote if they name different links."""
    if not votes:
        raise InvalidVote("a justification needs at least one vote")
    link = votes[0].link
    by_voter: dict[str, bytes] = {}
    for vote in votes:
        if vote.link != link:
            raise InvalidVote("the votes of one justification must all name the same source and target")
        by_voter.setdefault(vote.voter, vote.sig)
    return Justification(
        source_height=link.source.height,
        source_hash=link.source.hash,
        target_height=link.target.height,
        target_hash=link.target.hash,
        votes=tuple(sorted(by_voter.items())),
    )


def parse_justification(value: Any, where: str) -> Justification:
    """A justification from its wire map (inside a header); raises InvalidBlock naming the field."""
    r = FieldReader(value, where, InvalidBlock)
    justification = Justification(
        source_height=r.integer("source_height"),
        source_hash=r.digest("source_hash"),  # type: ignore[arg-type]
        target_height=r.integer("target_height", low=1),
        target_hash=r.digest("target_hash"),  # type: ignore[arg-type]
        votes=r.items("votes", _parse_signed_by, min_items=1, max_items=MAX_JUSTIFICATION_VOTES),
    )
    r.done()
    if justification.source_height >= justification.target_height:
        raise InvalidBlock(f"{where}.source_height must be below its target_height")
    voters = justification.voters
    if list(voters) != sorted(set(voters)):
        raise InvalidBlock(f"{where}.votes must be sorted by voter, each voter once")
    return justification


def _parse_signed_by(value: Any, where: str) -> tuple[str, bytes]:
    if not isinstance(value, list) or len(value) != 2:
        raise InvalidBlock(f"{where} must be a pair [voter, sig]")
    voter, sig = value
    r = FieldReader({"voter": voter}, where, InvalidBlock)
    r.did("voter")
    if not isinstance(sig, bytes) or len(sig) != SIGNATURE_SIZE:
        raise InvalidBlock(f"{where} signature must be {SIGNATURE_SIZE} bytes")
    return voter, sig
