"""Where signed events enter the node: from clients over the RPC, and from peers.

Checks, in order: strict decoding and the signature; that the event is not already on
chain; the rules only this node can check (an asset's content must be here); then the
mempool, which applies it to the pending state and refuses it with the reason. Events a
client submits are journaled once admitted (``journal.py``); the RPC answers only after
``wait_journaled``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from protocol.errors import ProtocolError, Rejected
from protocol.events import AssetRegister, Event, decode_event
from protocol.state import BlockContext
from storage.content import ContentStore

from .clock import Clock
from .journal import EventJournal
from .ledger import Ledger
from .mempool import Admission, Mempool


log = logging.getLogger("audiera.intake")


class AlreadyIncluded(Rejected):
    code = "already_included"


class ContentMissing(Rejected):
    code = "content_missing"


@dataclass(frozen=True)
class Submitted:
    event: Event
    admission: Admission


class EventIntake:
    def __init__(
        self, ledger: Ledger, mempool: Mempool, content: ContentStore, clock: Clock, journal: EventJournal | None = None
    ) -> None:
        self._ledger = ledger
        self._mempool = mempool
        self._content = content
        self._clock = clock
        self._journal = journal
        self._journaled: set[bytes] = set()
        self._announcers: list[Callable[[bytes], None]] = []

    def submit(self, raw: bytes) -> Submitted:
        """Admit an event's bytes from a client, journaling it and gossiping it on if it is new.

        Await ``wait_journaled`` before telling the client it was admitted.
        """
        event = decode_event(raw)
        self._check_local(event)
        submitted = self.submit_event(event)
        if not submitted.admission.known:
            self._journal_event(event)
            for announce in self._announcers:
                announce(submitted.event.raw)
        return submitted

    async def wait_journaled(self) -> None:
        """Return once every event submitted so far is durable in the journal."""
        if self._journal is not None:
            await self._journal.wait_durable()

    def readmit_journaled(self, raws: list[bytes]) -> int:
        """Admit again the events the journal held at startup; returns how many still wait."""
        for raw in raws:
            try:
                event = decode_event(raw)
                submitted = self.submit_event(event)
            except ProtocolError as exc:  # included meanwhile, or no longer valid
                log.debug("journaled event not re-admitted: %s", exc.message)
                continue
            if not submitted.admission.known:
                self._journaled.add(event.id)
        self._compact_journal()
        return len(self._journaled)

    def _journal_event(self, event: Event) -> None:
        if self._journal is None:
            return
        if self._journal.needs_compaction():
            self._compact_journal()
        self._journal.append([event.raw])
        self._journaled.add(event.id)

    def _compact_journal(self) -> None:
        if self._journal is None:
            return
        waiting = [event for event in self._mempool.waiting_events() if event.id in self._journaled]
        self._journal.compact([event.raw for event in waiting])
        self._journaled = {event.id for event in waiting}

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
            info = self._content.info(body.sealed_cid)
            if info is None:
                raise ContentMissing(f"sealed content {body.sealed_cid} of {body.cid} is not on this node: upload it here first")
            if info.asset != body.cid:
                raise Rejected(f"sealed content {body.sealed_cid} does not seal {body.cid}, but {info.asset}")
            if info.asset_size != body.size:
                raise Rejected(f"asset size {body.size} does not match the uploaded content ({info.asset_size} bytes)")
            if info.media is None and body.media is not None:
                raise Rejected(f"content {body.cid} is not audio this node can read, so it cannot carry media facts")
            if info.media is not None and body.media is not None and body.media.to_wire() != info.media:
                raise Rejected(f"asset media facts {body.media.to_wire()} differ from those read at upload {info.media}")
