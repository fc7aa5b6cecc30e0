"""Block headers and bodies.

A header is signed by its proposer over ``Domain.HEADER`` + the canonical encoding
of the unsigned header; the block hash is sha2-256 of the signed header's encoding.
A body is the ordered list of signed events, each kept as its own canonical bytes so
that an event's id never depends on the block that carries it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Callable, Iterable

from .encoding import decode, encode, sha256
from .errors import InvalidBlock, ProtocolError
from .events import Event, decode_event
from .fields import FieldReader
from .keys import Domain, SignatureCheck, SigningKey
from .merkle import MerkleProof, merkle_proof, merkle_root
from .votes import MAX_JUSTIFICATIONS, Justification, parse_justification

HEADER_VERSION = 2
MAX_BLOCK_BYTES = 1_000_000
"""A block must fit in one gossip message (py-libp2p caps those at 1 MiB)."""
MAX_BLOCK_EVENTS = 10_000
ZERO_HASH = b"\x00" * 32


@dataclass(frozen=True)
class Header:
    height: int
    parent: bytes
    """Hash of the parent block; the genesis hash for height 1."""
    ts: int
    """Block time in ms since the Unix epoch."""
    proposer: str
    """did:key of the authority that signed it."""
    events_root: bytes
    """Merkle root over the ids of the body's events."""
    state_root: bytes
    """Running hash of every state change up to and including this block."""
    difficulty: int
    """2 when signed in turn, 1 out of turn (Clique)."""
    justifications: tuple[Justification, ...] = ()
    """Quorums of finality votes for ancestors, in increasing target order (protocol.finality)."""
    sig: bytes = b""
    v: int = HEADER_VERSION

    def unsigned_wire(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "height": self.height,
            "parent": self.parent,
            "ts": self.ts,
            "proposer": self.proposer,
            "events_root": self.events_root,
            "state_root": self.state_root,
            "difficulty": self.difficulty,
            "justifications": [justification.to_wire() for justification in self.justifications],
        }

    def to_wire(self) -> dict[str, Any]:
        wire = self.unsigned_wire()
        wire["sig"] = self.sig
        return wire

    @cached_property
    def hash(self) -> bytes:
        return sha256(encode(self.to_wire()))

    def verify(self) -> None:
        """Raise InvalidSignature unless the proposer signed this header."""
        self.signature_check().run()

    def signature_check(self) -> SignatureCheck:
        return SignatureCheck(Domain.HEADER, encode(self.unsigned_wire()), self.sig, self.proposer)


def sign_header(key: SigningKey, unsigned: Header) -> Header:
    if unsigned.proposer != key.did:
        raise InvalidBlock("a header must be signed by its proposer")
    sig = key.sign(Domain.HEADER, encode(unsigned.unsigned_wire()))
    return replace(unsigned, sig=sig)


def parse_header(value: Any) -> Header:
    r = FieldReader(value, "header", InvalidBlock)
    version = r.integer("v")
    if version != HEADER_VERSION:
        raise InvalidBlock(f"header version {version} is not supported")
    header = Header(
        v=version,
        height=r.integer("height", low=1),
        parent=r.digest("parent"),  # type: ignore[arg-type]
        ts=r.integer("ts"),
        proposer=r.did("proposer"),  # type: ignore[arg-type]
        events_root=r.digest("events_root"),  # type: ignore[arg-type]
        state_root=r.digest("state_root"),  # type: ignore[arg-type]
        difficulty=r.integer("difficulty", low=1, high=2),
        justifications=r.items("justifications", parse_justification, max_items=MAX_JUSTIFICATIONS),
        sig=r.raw("sig"),
    )
    if not isinstance(header.sig, bytes) or len(header.sig) != 64:
        raise InvalidBlock("header.sig must be 64 bytes")
    r.done()
    return header


@dataclass(frozen=True)
class Block:
    header: Header
    events: tuple[Event, ...]

    @property
    def hash(self) -> bytes:
        return self.header.hash

    @property
    def height(self) -> int:
        return self.header.height

    @cached_property
    def event_ids(self) -> list[bytes]:
        return [event.id for event in self.events]

    @cached_property
    def raw(self) -> bytes:
        return encode_block(self)

    def proof_for(self, index: int) -> MerkleProof:
        return merkle_proof(self.event_ids, index)


def compute_events_root(events: tuple[Event, ...] | list[Event]) -> bytes:
    return merkle_root([event.id for event in events])


def encode_block(block: Block) -> bytes:
    return encode({"header": block.header.to_wire(), "events": [event.raw for event in block.events]})


def peek_block(data: bytes) -> tuple[Header, list[bytes]]:
    """A stored block's header and its events' raw bytes, without parsing the events.

    Only for bytes this node stored after checking them: it is what listing a block's
    event ids needs (each id is the hash of the raw bytes), at a fraction of the cost.
    """
    wire = decode(data)
    return parse_header(wire["header"]), list(wire["events"])


def decode_block(
    data: bytes,
    *,
    max_bytes: int = MAX_BLOCK_BYTES,
    verify: bool = True,
    known_events: Callable[[bytes], Event | None] | None = None,
) -> Block:
    """Strictly decode a block, verify its signature, every event's, and the events root.

    What depends on chain state (proposer's turn, parent, state root) is checked on import.
    ``verify=False`` skips the signatures, only for bytes this node stored after verifying them.
    ``known_events(event_id)`` returns events this node has already decoded and verified
    (those waiting in its mempool): an id is the hash of the exact signed bytes, so such an
    event is taken as it is instead of being decoded and its signature checked again.
    """
    block, owed = decode_block_unchecked(data, max_bytes=max_bytes, known_events=known_events)
    if verify:
        check_signatures(owed)
    return block


def check_signatures(owed: Iterable[OwedSignature]) -> None:
    """Run each owed check in order; raise what the first that fails raises."""
    for signature in owed:
        signature.run()


@dataclass(frozen=True)
class OwedSignature:
    """A signature ``decode_block_unchecked`` left to check, and where in the block it is."""

    check: SignatureCheck
    where: str | None
    """``block.events[i]`` for an event's signature; None for the header's."""

    def run(self) -> None:
        """Raise the error ``decode_block`` raises for this signature, unless it verifies."""
        try:
            self.check.run()
        except ProtocolError as exc:
            if self.where is None:
                raise
            raise InvalidBlock(f"{self.where}: {exc.message}") from None


def decode_block_unchecked(
    data: bytes,
    *,
    max_bytes: int = MAX_BLOCK_BYTES,
    known_events: Callable[[bytes], Event | None] | None = None,
) -> tuple[Block, list[OwedSignature]]:
    """``decode_block`` without its signature checks, which it returns, in the order
    ``decode_block`` runs them: the block is verified once every one of them has passed.

    For a node catching up, which checks them in another process while it imports.
    """
    if len(data) > max_bytes:
        raise InvalidBlock(f"block is {len(data)} bytes; the limit is {max_bytes}")
    wire = decode(data)
    r = FieldReader(wire, "block", InvalidBlock)
    header = parse_header(r.raw("header"))
    raw_events = r.raw("events")
    r.done()
    if not isinstance(raw_events, list) or len(raw_events) > MAX_BLOCK_EVENTS:
        raise InvalidBlock(f"block.events must be a list of at most {MAX_BLOCK_EVENTS} events")
    events, owed = [], []
    for index, raw in enumerate(raw_events):
        if not isinstance(raw, bytes):
            raise InvalidBlock(f"block.events[{index}] must be an encoded event")
        try:
            known = known_events(sha256(raw)) if known_events is not None else None
            if known is None:
                known = decode_event(raw, verify=False)
                owed.append(OwedSignature(known.signature_check(), f"block.events[{index}]"))
        except ProtocolError as exc:
            raise InvalidBlock(f"block.events[{index}]: {exc.message}") from None
        events.append(known)
    block = Block(header=header, events=tuple(events))
    _check_commitment(header, block.event_ids, verify=False)
    owed.append(OwedSignature(header.signature_check(), None))
    block.__dict__["raw"] = bytes(data)
    return block, owed


def _check_commitment(header: Header, event_ids: list[bytes], *, verify: bool) -> None:
    """The body is the one the header commits to: each event once, under events_root; and
    (``verify``) the proposer signed the header. Full and compact blocks alike."""
    if len(set(event_ids)) != len(event_ids):
        raise InvalidBlock("block carries the same event twice")
    if merkle_root(event_ids) != header.events_root:
        raise InvalidBlock("header.events_root does not match the block's events")
    if verify:
        header.verify()


@dataclass(frozen=True)
class CompactBlock:
    """A block as gossip carries it: the signed header and its events' ids, in order.

    Peers hold nearly every event already (event gossip runs ahead of blocks), so a
    block's events would otherwise cross every link twice, and be read twice.
    """

    header: Header
    event_ids: tuple[bytes, ...]

    @property
    def hash(self) -> bytes:
        return self.header.hash

    @property
    def height(self) -> int:
        return self.header.height

    def assemble(self, events: list[Event]) -> Block:
        """The block, given its events in order (each found by its id, so they match)."""
        if [event.id for event in events] != list(self.event_ids):
            raise InvalidBlock(f"block {self.height}: the events given are not the ones its header commits to")
        return Block(header=self.header, events=tuple(events))


def encode_compact_block(block: Block) -> bytes:
    return encode({"header": block.header.to_wire(), "ids": block.event_ids})


def decode_compact_block(data: bytes, *, verify: bool = True) -> CompactBlock:
    """Strictly decode a compact block; check its events root and (``verify``) its signature."""
    if len(data) > MAX_BLOCK_BYTES:
        raise InvalidBlock(f"compact block is {len(data)} bytes; the limit is {MAX_BLOCK_BYTES}")
    r = FieldReader(decode(data), "compact block", InvalidBlock)
    header = parse_header(r.raw("header"))
    ids = r.raw("ids")
    r.done()
    if not isinstance(ids, list) or len(ids) > MAX_BLOCK_EVENTS:
        raise InvalidBlock(f"compact block.ids must be a list of at most {MAX_BLOCK_EVENTS} event ids")
    if not all(isinstance(event_id, bytes) and len(event_id) == 32 for event_id in ids):
        raise InvalidBlock("compact block.ids must be 32-byte event ids")
    _check_commitment(header, ids, verify=verify)
    return CompactBlock(header=header, event_ids=tuple(ids))

