"""Equivocation evidence: two different headers one authority signed for one height.

Either header alone is an ordinary signed header; together they prove the authority
broke the rules, and anyone can check the proof offline.
"""

from __future__ import annotations

from dataclasses import dataclass

from .blocks import Header, parse_header
from .encoding import decode, encode
from .errors import DecodeError, InvalidBlock, ProtocolError

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
