"""Evidence that an authority broke the rules, checkable by anyone offline.

``Equivocation``: two different headers one authority signed for one height.
``VoteEvidence``: two finality votes one authority signed that no honest voter signs
together (a double vote or a surround vote, ``protocol.votes.offence``). Either object
of a pair alone is ordinary and signed; together they are the proof.
"""

from __future__ import annotations

from dataclasses import dataclass

from .blocks import Header, parse_header
from .encoding import decode, encode
from .errors import DecodeError, InvalidBlock, ProtocolError
from .votes import InvalidVote, Offence, Vote, encode_vote, offence, parse_vote

MAX_EVIDENCE_BYTES = 4096


class InvalidEvidence(ProtocolError):
    code = "invalid_evidence"


@dataclass(frozen=True)
class Equivocation:
    first: Header
    second: Header

    @property
    def proposer(self) -> str:
        return self.first.proposer

    @property
    def height(self) -> int:
        return self.first.height

    def header_bytes(self) -> tuple[bytes, bytes]:
        return encode(self.first.to_wire()), encode(self.second.to_wire())

    def encode(self) -> bytes:
        return encode(list(self.header_bytes()))


def equivocation(first: Header, second: Header) -> Equivocation:
    """Check that two verified-or-not headers prove equivocation; raise InvalidEvidence if not."""
    if first.proposer != second.proposer or first.height != second.height:
        raise InvalidEvidence("evidence headers must have the same proposer and height")
    if first.hash == second.hash:
        raise InvalidEvidence("evidence headers must differ")
    try:
        first.verify()
        second.verify()
    except ProtocolError as exc:
        raise InvalidEvidence(f"evidence header signature: {exc.message}") from None
    return Equivocation(first, second)


def decode_equivocation(data: bytes) -> Equivocation:
    """Strictly decode and verify gossiped or stored evidence."""
    if len(data) > MAX_EVIDENCE_BYTES:
        raise InvalidEvidence(f"evidence of {len(data)} bytes is over the limit")
    try:
        pair = decode(data)
        if not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(item, bytes) for item in pair):
            raise InvalidEvidence("evidence must be a list of two encoded headers")
        first, second = (parse_header(decode(item)) for item in pair)
    except InvalidBlock as exc:
        raise InvalidEvidence(f"evidence header: {exc.message}") from None
    except DecodeError as exc:
        raise InvalidEvidence(f"evidence does not decode: {exc.message}") from None
    return equivocation(first, second)


@dataclass(frozen=True)
class VoteEvidence:
    """Two signed votes by one authority that together break a voting rule."""

    first: Vote
    second: Vote

    @property
    def voter(self) -> str:
        return self.first.voter

    @property
    def offence(self) -> Offence:
        found = offence(self.first, self.second)
        if found is None:
            raise InvalidEvidence("these two votes break no voting rule")
        return found

    @property
    def height(self) -> int:
        """The height the evidence is filed under: the lower of the two targets."""
        return min(self.first.target_height, self.second.target_height)

    def vote_bytes(self) -> tuple[bytes, bytes]:
        return encode_vote(self.first), encode_vote(self.second)

    def encode(self) -> bytes:
        return encode({"votes": list(self.vote_bytes())})

    def check(self) -> None:
        """Raise InvalidEvidence unless both votes verify and together break a rule."""
        _ = self.offence
        try:
            self.first.verify()
            self.second.verify()
        except ProtocolError as exc:
            raise InvalidEvidence(f"evidence vote signature: {exc.message}") from None


def vote_evidence(first: Vote, second: Vote) -> VoteEvidence:
    """Checked evidence from two votes, in one order (by encoding) so a pair has one form."""
    a, b = sorted((first, second), key=encode_vote)
    evidence = VoteEvidence(a, b)
    evidence.check()
    return evidence


def decode_vote_evidence(data: bytes) -> VoteEvidence:
    """Strictly decode and check gossiped or stored vote evidence."""
    if len(data) > MAX_EVIDENCE_BYTES:
        raise InvalidEvidence(f"evidence of {len(data)} bytes is over the limit")
    try:
        wire = decode(data)
        if not isinstance(wire, dict) or set(wire) != {"votes"}:
            raise InvalidEvidence("vote evidence must be a map with only 'votes'")
        pair = wire["votes"]
        if not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(item, bytes) for item in pair):
            raise InvalidEvidence("vote evidence must hold two encoded votes")
        first, second = (parse_vote(decode(item)) for item in pair)
    except InvalidVote as exc:
        raise InvalidEvidence(f"evidence vote: {exc.message}") from None
    except DecodeError as exc:
        raise InvalidEvidence(f"evidence does not decode: {exc.message}") from None
    evidence = vote_evidence(first, second)
    if evidence.encode() != data:
        raise InvalidEvidence("vote evidence must list its votes in their canonical order")
    return evidence


def decode_evidence(data: bytes) -> Equivocation | VoteEvidence:
    """Either kind of evidence (the evidence topic and the store carry both)."""
    try:
        wire = decode(data) if len(data) <= MAX_EVIDENCE_BYTES else None
    except DecodeError as exc:
        raise InvalidEvidence(f"evidence does not decode: {exc.message}") from None
    if isinstance(wire, dict):
        return decode_vote_evidence(data)
    return decode_equivocation(data)
