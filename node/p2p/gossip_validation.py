"""Gossip validation: each message is ACCEPTed, IGNOREd or REJECTed, with a reason.

After consensus-specs' p2p interface. Validators run on the network thread before a
message is delivered or relayed:

- ACCEPT: delivered to the node and relayed.
- IGNORE: dropped, not relayed, and the forwarder is not blamed. Whatever depends on this
  node's view of the chain is an IGNORE (an unknown parent, a proposer outside the
  authority set known here, a block far ahead of the head, a block already seen): an
  honest peer on a newer view relays such blocks, and sync fetches them if they matter.
- REJECT: dropped, not relayed, and the forwarder is scored down. Only what is wrong
  whatever the view: bytes that do not decode, a bad signature, a block whose own
  parent's authority set (the head's, known exactly here) does not hold its proposer.

Wrong-network messages cannot arrive: topics carry the genesis hash, and peers on
another genesis are dropped at handshake.

Validators read only a ``ChainView``, an immutable snapshot published on each head
change, and the thread-safe caches below; never the live ledger or mempool.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Callable

from protocol.blocks import Block, CompactBlock, decode_compact_block
from protocol.encoding import sha256
from protocol.errors import ProtocolError
from protocol.evidence import decode_evidence
from protocol.events import Event, decode_event
from protocol.votes import Vote, decode_vote, encode_vote

from node.bounded_cache import BoundedCache, BoundedSet

from .messages import decode_event_batch

MAX_BATCH_BYTES = 900_000
"""Below py-libp2p's 1 MiB message limit, which it enforces by silently not sending."""
GOSSIP_AHEAD_BLOCKS = 32
"""A gossiped block this far above our head is left to sync: we cannot judge it."""
RECENT_BLOCKS = 256
"""Block hashes a view remembers as known parents."""


class Verdict(enum.Enum):
    ACCEPT = "accept"
    IGNORE = "ignore"
    REJECT = "reject"


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    """What becomes of the message."""
    reason: str = ""
    """Why a message was ignored or rejected (for the log and the peer's strikes)."""
    behind: bool = False
    """An IGNORE that says this node may be behind the forwarder (a block it cannot place)."""


ACCEPTED = Judgement(Verdict.ACCEPT)


def ignore(reason: str, *, behind: bool = False) -> Judgement:
    return Judgement(Verdict.IGNORE, reason, behind)


def reject(reason: str) -> Judgement:
    return Judgement(Verdict.REJECT, reason)


Validator = Callable[[str, bytes], Judgement]
"""(forwarding peer, message data) -> judgement. Runs on the network thread: CPU only."""


@dataclass(frozen=True)
class ChainView:
    """What validators know of the chain: a snapshot of the head, replaced whole on each change."""

    head_height: int
    """Height of this node's head."""
    head_hash: bytes
    """Hash of this node's head."""
    authorities: frozenset[str]
    """The set that signs the block after the head."""
    recent_blocks: frozenset[bytes]
    """Hashes of blocks applied lately (the head included): known parents."""
    final_height: int = 0
    """Height of this node's final block: votes at or below it can change nothing."""


class CurrentView:
    """The latest ``ChainView``. Publishing replaces one reference, so readers on any thread
    see either the old view or the new one, never a mix."""

    def __init__(self, view: ChainView) -> None:
        self._view = view

    def get(self) -> ChainView:
        return self._view

    def publish(self, view: ChainView) -> None:
        self._view = view


class Decoded:
    """What validators decoded, kept briefly for the consumer so nothing is decoded twice."""

    def __init__(self, capacity: int = 512) -> None:
        self._items: BoundedCache[bytes, Any] = BoundedCache(capacity)

    def put(self, data: bytes, decoded: Any) -> None:
        self._items.put(sha256(data), decoded)

    def take(self, data: bytes) -> Any:
        return self._items.pop(sha256(data))


class VerifiedEvents:
    """Events whose signatures the validators checked recently, by id.

    The mempool learns of a gossiped event only when the asyncio loop gets round to it,
    while a block carrying the same event can pass validation on the network thread
    first (and the other way round): without this, such an event's signature would be
    checked twice, and under load signature checks are a third of a node's time.
    """

    def __init__(self, capacity: int = 20_000) -> None:
        self._events: BoundedCache[bytes, Event] = BoundedCache(capacity)

    def add(self, events: list[Event]) -> None:
        if events:
            self._events.put_many((event.id, event) for event in events)

    def get(self, event_id: bytes) -> Event | None:
        return self._events.get(event_id)


class BlocksInFlight:
    """Blocks accepted on gossip lately, by hash, and their parents.

    Written on the network thread as soon as a block passes validation, long before it is
    imported. The hashes make a block that follows close behind its parent judgeable
    (its parent is known though not imported yet). The parents let an out-of-turn
    authority that sees another block on its head in flight hold back a competing one
    (each fork costs every node a reorg, which under load is the difference between
    keeping up and falling behind).
    """

    def __init__(self, capacity: int = 256) -> None:
        self._blocks: BoundedSet[bytes] = BoundedSet(capacity)
        self._parents: BoundedSet[bytes] = BoundedSet(capacity)

    def add(self, block_hash: bytes, parent: bytes) -> None:
        self._blocks.add(block_hash)
        self._parents.add(parent)

    def has_block(self, block_hash: bytes) -> bool:
        return block_hash in self._blocks

    def has_child_of(self, parent: bytes) -> bool:
        return parent in self._parents


def event_batch_validator(
    decoded: Decoded,
    known_event: Callable[[bytes], Event | None],
    included: Callable[[bytes], bool],
    verified: VerifiedEvents,
) -> Validator:
    """Checks every event of a batch, except those already verified here (``known_event``)
    or already included (a block can overtake the batch that carried its events); the
    events it checks go into ``verified``, which ``known_event`` is expected to consult."""

    def validate(peer: str, data: bytes) -> Judgement:
        if len(data) > MAX_BATCH_BYTES + 1024:
            return reject(f"event batch of {len(data)} bytes is over the limit")
        try:
            events, checked = [], []
            for raw in decode_event_batch(data):
                event_id = sha256(raw)
                known = known_event(event_id)
                if known is not None:
                    events.append(known)
                elif not included(event_id):
                    checked.append(decode_event(raw))
                    events.append(checked[-1])
        except ProtocolError as exc:
            return reject(f"invalid event gossip: {exc.message}")
        verified.add(checked)
        decoded.put(data, events)
        return ACCEPTED

    return validate


def judge_block(compact: CompactBlock, view: ChainView, in_flight: BlocksInFlight) -> Judgement:
    """The view-dependent rules for a decoded (not yet signature-checked) compact block."""
    header = compact.header
    if compact.hash in view.recent_blocks or in_flight.has_block(compact.hash):
        return ignore(f"block {compact.height} already seen")
    if compact.height > view.head_height + GOSSIP_AHEAD_BLOCKS:
        return ignore(f"block {compact.height} is far ahead of our head {view.head_height}", behind=True)
    if header.parent not in view.recent_blocks and not in_flight.has_block(header.parent):
        return ignore(f"block {compact.height} is on a parent we do not know", behind=True)
    if header.proposer not in view.authorities:
        if header.parent == view.head_hash:
            # The set after our head is exactly the set for this block: no view can excuse it.
            return reject(f"block {compact.height} on our head is signed by a non-authority {header.proposer}")
        return ignore(f"block {compact.height} is signed by {header.proposer}, not in the authority set known here")
    return ACCEPTED


def block_validator(
    view: CurrentView,
    decoded: Decoded,
    known_event: Callable[[bytes], Event | None],
    in_flight: BlocksInFlight,
    maybe_behind: Callable[[str], None] = lambda peer: None,
    heard_from: Callable[[str], None] = lambda proposer: None,
) -> Validator:
    """Checks a compact block: encoding and events root, the rules of ``judge_block``, then
    the signature (last: the cheap checks spare it). It is relayed whether or not this node
    holds its events: the consumer fetches what is missing, and a signed header with a
    matching root commits to them. A block on a parent we lack tells ``maybe_behind`` of
    its forwarder, whose status then shows whether sync should fetch its branch. Each
    accepted block tells ``heard_from`` of its proposer, as soon as it arrives (before the
    node gets round to importing it): the producer then knows that authority is up."""

    def validate(peer: str, data: bytes) -> Judgement:
        try:
            compact = decode_compact_block(data, verify=False)
        except ProtocolError as exc:
            return reject(f"invalid block gossip: {exc.message}")
        judgement = judge_block(compact, view.get(), in_flight)
        if judgement.verdict is not Verdict.ACCEPT:
            if judgement.behind:
                maybe_behind(peer)
            return judgement
        try:
            compact.header.verify()
        except ProtocolError as exc:
            return reject(f"block {compact.height} gossiped with a bad signature: {exc.message}")
        in_flight.add(compact.hash, compact.header.parent)
        heard_from(compact.header.proposer)
        decoded.put(data, assemble_known(compact, known_event))
        return ACCEPTED

    return validate


def assemble_known(compact: CompactBlock, known_event: Callable[[bytes], Event | None]) -> Block | CompactBlock:
    """The whole block if every event is known here, else the compact block as it is."""
    events = []
    for event_id in compact.event_ids:
        event = known_event(event_id)
        if event is None:
            return compact
        events.append(event)
    return compact.assemble(events)


def vote_validator(
    view: CurrentView,
    decoded: Decoded,
    in_flight: BlocksInFlight,
    seen: BoundedSet[bytes],
    hold: Callable[[Vote], None] = lambda vote: None,
) -> Validator:
    """Checks a finality vote. REJECT: it does not decode, its signature does not verify, or
    its voter is not an authority (the set after our head). IGNORE: already seen, at or below
    our final height, far ahead of our head, or for a block we do not know (handed to
    ``hold``, which keeps it a short while in case the block follows). A second, slashable
    vote by one voter is ACCEPTed: relaying it is how the evidence spreads."""

    def validate(peer: str, data: bytes) -> Judgement:
        try:
            vote = decode_vote(data, verify=False)
        except ProtocolError as exc:
            return reject(f"invalid vote gossip: {exc.message}")
        current = view.get()
        digest = sha256(encode_vote(vote))
        if digest in seen:
            return ignore(f"vote by {vote.voter} for block {vote.target_height} already seen")
        if vote.voter not in current.authorities:
            return reject(f"vote for block {vote.target_height} by {vote.voter}, which is not an authority")
        if vote.target_height <= current.final_height:
            return ignore(f"vote for block {vote.target_height}, at or below the final block {current.final_height}")
        if vote.target_height > current.head_height + GOSSIP_AHEAD_BLOCKS:
            return ignore(f"vote for block {vote.target_height}, far ahead of our head {current.head_height}")
        try:
            vote.verify()
        except ProtocolError as exc:
            return reject(f"vote for block {vote.target_height} with a bad signature: {exc.message}")
        seen.add(digest)
        if vote.target_hash not in current.recent_blocks and not in_flight.has_block(vote.target_hash):
            hold(vote)
            return ignore(f"vote for block {vote.target_height} {vote.target_hash.hex()[:12]}, which we do not know")
        decoded.put(data, vote)
        return ACCEPTED

    return validate


def validated_vote(decoded: Decoded, data: bytes) -> Vote:
    vote = decoded.take(data)
    return vote if vote is not None else decode_vote(data, verify=False)


def evidence_validator(decoded: Decoded) -> Validator:
    """Evidence (double-signed headers, slashable votes) is relayed only when it checks out."""

    def validate(peer: str, data: bytes) -> Judgement:
        try:
            evidence = decode_evidence(data)
        except ProtocolError as exc:
            return reject(f"invalid evidence gossip: {exc.message}")
        decoded.put(data, evidence)
        return ACCEPTED

    return validate


def validated_events(decoded: Decoded, data: bytes) -> list[Event]:
    """Events of a batch the validator accepted (their signatures were checked there)."""
    events = decoded.take(data)
    return events if events is not None else [decode_event(raw, verify=False) for raw in decode_event_batch(data)]


def validated_block(decoded: Decoded, data: bytes) -> Block | CompactBlock:
    block = decoded.take(data)
    # Decoded entries are few and recent: one that fell out was checked all the same.
    return block if block is not None else decode_compact_block(data, verify=False)
