"""Events waiting for a block, in the order they can be applied.

``ready`` events (status PENDING: next in line for a block) have been applied, in
admission order, to an overlay of the chain's state, so a submission that the state
machine would refuse is refused at once, with the reason, instead of vanishing at block
time. Events with a future nonce wait in ``queued`` (per author, at most
``max_future_nonces`` ahead) until the gap closes.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable

from protocol.errors import Rejected
from protocol.events import Event
from protocol.state import BlockContext, StateOverlay, StateView, apply_event, get_account

from node.bounded_cache import BoundedCache

PENDING = "pending"
QUEUED = "queued"
_REJECTED_MEMORY = 10_000
_STALE_WRITES_SLACK = 20_000
"""Writes of included events the pending overlay may keep before it is rebuilt from the chain."""


class MempoolFull(Rejected):
    code = "mempool_full"
    status = 503  # temporary: the same event may be sent again later


class NonceConflict(Rejected):
    code = "nonce"


@dataclass(frozen=True)
class Admission:
    status: str
    """PENDING or QUEUED."""
    known: bool = False
    """The same event was already waiting."""


class Mempool:
    def __init__(self, state: StateView, *, max_events: int, max_future_nonces: int) -> None:
        self._state = state
        self._max_events = max_events
        self._max_future = max_future_nonces
        self._ready: OrderedDict[bytes, Event] = OrderedDict()
        self._queued: dict[str, dict[int, Event]] = {}
        self._queued_ids: set[bytes] = set()
        self._overlay = StateOverlay(state)
        self._rejected: BoundedCache[bytes, str] = BoundedCache(_REJECTED_MEMORY)
        self._included_since_rebuild = 0
        """Events that left for a block while their writes stayed in the overlay."""

    def __len__(self) -> int:
        return len(self._ready) + len(self._queued_ids)

    @property
    def ready_count(self) -> int:
        return len(self._ready)

    @property
    def queued_count(self) -> int:
        return len(self._queued_ids)

    def status(self, event_id: bytes) -> str | None:
        if event_id in self._ready:
            return PENDING
        if event_id in self._queued_ids:
            return QUEUED
        return None

    def verified(self, event_id: bytes) -> Event | None:
        """A ready event by id (decoded and verified on arrival); safe to call from the network thread."""
        return self._ready.get(event_id)

    def get(self, event_id: bytes) -> Event | None:
        if event_id in self._ready:
            return self._ready[event_id]
        for waiting in self._queued.values():
            for event in waiting.values():
                if event.id == event_id:
                    return event
        return None

    def waiting_events(self) -> list[Event]:
        """Every event waiting, ready ones first in order, then queued ones by author and nonce."""
        queued = [event for author in sorted(self._queued) for _, event in sorted(self._queued[author].items())]
        return [*self._ready.values(), *queued]

    def rejection(self, event_id: bytes) -> str | None:
        """Why an event that was admitted later failed to apply, if it did."""
        return self._rejected.get(event_id)

    def next_nonce(self, author: str) -> int:
        """The nonce the author's next event should carry, counting its waiting events."""
        nonce = get_account(self._overlay, author).nonce + 1
        waiting = self._queued.get(author, {})
        while nonce in waiting:
            nonce += 1
        return nonce

    def add(self, event: Event, context: BlockContext) -> Admission:
        """Admit a verified event, or raise Rejected saying why not."""
        known = self.status(event.id)
        if known is not None:
            return Admission(known, known=True)
        if len(self) >= self._max_events:
            raise MempoolFull(f"the mempool is full ({self._max_events} events); try again after the next block")
        expected = get_account(self._overlay, event.author).nonce + 1
        if event.nonce > expected:
            return self._queue(event, expected)
        if event.nonce < expected:
            raise NonceConflict(
                f"nonce {event.nonce} of {event.author} was already used; the next nonce is {self.next_nonce(event.author)}"
            )
        apply_event(self._overlay, event, context)  # raises Rejected with the reason
        self._ready[event.id] = event
        self._promote(event.author, context)
        return Admission(PENDING)

    def _queue(self, event: Event, expected: int) -> Admission:
        if event.nonce > expected + self._max_future:
            raise NonceConflict(
                f"nonce {event.nonce} of {event.author} is too far ahead: the next nonce is {expected}, "
                f"and at most {self._max_future} later ones may wait"
            )
        waiting = self._queued.setdefault(event.author, {})
        if event.nonce in waiting:
            raise NonceConflict(f"another waiting event of {event.author} already has nonce {event.nonce}")
        waiting[event.nonce] = event
        self._queued_ids.add(event.id)
        return Admission(QUEUED)

    def _promote(self, author: str, context: BlockContext) -> None:
        waiting = self._queued.get(author)
        while waiting:
            nonce = get_account(self._overlay, author).nonce + 1
            event = waiting.pop(nonce, None)
            if event is None:
                break
            self._queued_ids.discard(event.id)
            try:
                apply_event(self._overlay, event, context)
            except Rejected as exc:
                self._remember_rejection(event.id, exc.message)
                continue
            self._ready[event.id] = event
        if waiting is not None and not waiting:
            del self._queued[author]

    def take(self, max_events: int, max_bytes: int) -> list[Event]:
        """The longest prefix of ready events within the limits, in applicable order."""
        taken: list[Event] = []
        size = 0
        for event in self._ready.values():
            # Each event also costs up to 5 bytes of framing inside the block.
            cost = len(event.raw) + 5
            if len(taken) >= max_events or size + cost > max_bytes:
                break
            taken.append(event)
            size += cost
        return taken

    def drop(self, event: Event, reason: str) -> None:
        """Forget an event that could not go into a block."""
        self._ready.pop(event.id, None)
        self._remember_rejection(event.id, reason)

    def on_new_head(self, included: Iterable[bytes], context: BlockContext, returned: Iterable[Event] = ()) -> None:
        """Forget included events and re-apply the rest on the new state.

        ``returned`` are the events of blocks a reorg reverted: those the new branch does
        not carry wait again, ahead of the others, in their chain order.
        """
        included = list(included)
        included_set = set(included)
        back = [event for event in returned if event.id not in included_set and event.id not in self._ready]
        if not back and self._may_keep_overlay(included):
            for event_id in included:
                del self._ready[event_id]
            self._included_since_rebuild += len(included)
            return
        for event_id in included:
            self._ready.pop(event_id, None)
        remaining = back + list(self._ready.values())
        self._ready.clear()
        self._overlay = StateOverlay(self._state)
        self._included_since_rebuild = 0
        for event in remaining:
            try:
                apply_event(self._overlay, event, context)
            except Rejected as exc:
                self._remember_rejection(event.id, exc.message)
                continue
            self._ready[event.id] = event
        for author in list(self._queued):
            self._drop_stale(author)
            self._promote(author, context)

    def _may_keep_overlay(self, included: list[bytes]) -> bool:
        """Whether the pending state may stay as it is after a block that carried ``included``.

        The pending state is the chain with every ready event applied in our order. A block
        of only ready events leaves it a valid ordering of the same events: exactly so when
        the block took our first events in our order; otherwise (another authority's block,
        which saw the events arrive in another order) up to events that do not commute,
        which ``build_block`` checks again and leaves out if they no longer apply.
        Re-applying every waiting event instead cost as much as importing the block, on
        every block, on the path to signing the next one. The overlay keeps the included
        events' writes (the chain holds the same keys now), so it is rebuilt from the chain
        once those pile up.
        """
        remaining = len(self._ready) - len(included)
        if self._included_since_rebuild + len(included) > 2 * remaining + _STALE_WRITES_SLACK:
            return False
        if len(included) <= len(self._ready) and all(mine == theirs for mine, theirs in zip(self._ready, included)):
            return True
        return all(event_id in self._ready for event_id in included)

    def _drop_stale(self, author: str) -> None:
        applied = get_account(self._overlay, author).nonce
        waiting = self._queued[author]
        for nonce in [n for n in waiting if n <= applied]:
            event = waiting.pop(nonce)
            self._queued_ids.discard(event.id)
            self._remember_rejection(event.id, f"nonce {nonce} was used by another event")

    def _remember_rejection(self, event_id: bytes, reason: str) -> None:
        self._rejected.put(event_id, reason)
