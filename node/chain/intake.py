"""Where signed events enter the node: from clients over the RPC, and from peers.

Checks, in order: strict decoding and the signature; that the event is not already on
chain; the rules only this node can check (an asset's content must be here); then the
mempool, which applies it to the pending state and refuses it with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from protocol.errors import Rejected
from protocol.events import AssetRegister, Event, decode_event
from protocol.state import BlockContext
from storage.content import ContentStore

from .clock import Clock
from .ledger import Ledger
from .mempool import Admission, Mempool


class AlreadyIncluded(Rejected):
    code = "already_included"


class ContentMissing(Rejected):
    code = "content_missing"


@dataclass(frozen=True)
class Submitted:
    event: Event
    admission: Admission


class EventIntake:
    def __init__(self, ledger: Ledger, mempool: Mempool, content: ContentStore, clock: Clock) -> None:
        self._ledger = ledger
        self._mempool = mempool
        self._content = content
        self._clock = clock
        self._announcers: list[Callable[[bytes], None]] = []

    def submit(self, raw: bytes) -> Submitted:
        """Admit an event's bytes from a client, gossiping it on if it is new."""
        event = decode_event(raw)
        self._check_local(event)
        submitted = self.submit_event(event)
        if not submitted.admission.known:
            for announce in self._announcers:
                announce(submitted.event.raw)
        return submitted

    def on_admitted(self, announce: Callable[[bytes], None]) -> None:
        """Call ``announce`` with each new event a client submits (the network gossips them)."""
        self._announcers.append(announce)

    def submit_event(self, event: Event) -> Submitted:
        """Admit a verified event, or raise a ProtocolError that says why not.

        Events from peers come in here directly: the rules only the registering node
        can check (``_check_local``) were checked there.
        """
        stored = self._ledger.chain.get_event(event.id)
        if stored is not None:
            raise AlreadyIncluded(f"event {event.id.hex()} is already in block {stored.height}")
        head = self._ledger.head
        context = BlockContext(height=head.height + 1, ts=max(self._clock(), head.ts))
        return Submitted(event, self._mempool.add(event, context))

    def _check_local(self, event: Event) -> None:
        body = event.body
        if isinstance(body, AssetRegister):
            info = self._content.info(body.cid)
            if info is None:
                raise ContentMissing(f"content {body.cid} is not on this node: upload it here first")
            if info.size != body.size:
                raise Rejected(f"asset size {body.size} does not match the uploaded content ({info.size} bytes)")
            if info.media is None and body.media is not None:
                raise Rejected(f"content {body.cid} is not audio this node can read, so it cannot carry media facts")
            if info.media is not None and body.media is not None and body.media.to_wire() != info.media:
                raise Rejected(f"asset media facts {body.media.to_wire()} differ from those read at upload {info.media}")
