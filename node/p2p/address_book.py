"""The peers this node knows how to reach: where each listens, whether an authority vouched
for it, and how its dials went; bounded, and kept in the data directory across restarts.

Entries come from the config's bootstrap list (pinned: never forgotten), from peers'
own answers about themselves, and from what peers say about others. The last source is
untrusted, so the book is bounded, prefers entries that were reached, and forgets an
unpinned entry that failed ``FORGET_AFTER_FAILURES`` dials in a row.
"""

from __future__ import annotations

import json
import logging
import os
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from multiaddr import Multiaddr

log = logging.getLogger("audiera.p2p.address_book")

MAX_ENTRIES = 256
"""Most peers the book holds: what a stranger can make us remember is bounded."""
MAX_ADDRESSES = 4
"""Most addresses one peer is known by."""
MAX_ADDRESS_CHARS = 200
FORGET_AFTER_FAILURES = 20
DIAL_BACKOFF_MIN_S = 0.5
"""py-libp2p needs a gap after a peer restarts before pubsub recovers (LIBP2P.md)."""
DIAL_BACKOFF_MAX_S = 2.0
"""Redial a peer that is away at least this often, so a restarted network reconnects in seconds."""
FILE_NAME = "peers.json"


@dataclass(frozen=True)
class Authority:
    """An authority's signature binding its did to a peer id on one genesis."""

    did: str
    signature: bytes


@dataclass(frozen=True)
class PeerEntry:
    peer_id: str
    addresses: tuple[str, ...]
    """Dialable /ip4|ip6|dns…/tcp/…/p2p/<peer id> addresses."""
    authority: Authority | None = None
    """Set only once its signature was checked against the authority set."""


@dataclass
class _DialState:
    failures: int = 0
    next_try: float = 0.0
    backoff: float = DIAL_BACKOFF_MIN_S
    reached: bool = False


def is_dialable(address: str, peer_id: str) -> bool:
    """An address we would dial for ``peer_id``: TCP over an IP or DNS name, ending in that peer's id."""
    if not isinstance(address, str) or not 0 < len(address) <= MAX_ADDRESS_CHARS:
        return False
    try:
        parts = [protocol.name for protocol in Multiaddr(address).protocols()]
        tail = Multiaddr(address).value_for_protocol("p2p")
    except Exception:  # multiaddr raises many types for bad text; any means "not an address"
        return False
    return (
        len(parts) == 3
        and parts[0] in ("ip4", "ip6", "dns", "dns4", "dns6")
        and parts[1] == "tcp"
        and parts[2] == "p2p"
        and tail == peer_id
    )


class AddressBook:
    def __init__(self, path: Path | None, own_peer_id: str) -> None:
        self._path = path
        self._own = own_peer_id
        self._entries: dict[str, PeerEntry] = {}
        self._dials: dict[str, _DialState] = {}
        self.pinned: set[str] = set()
        self._dirty = False

    # --- what goes in --------------------------------------------------------------------

    def pin(self, address: str) -> str | None:
        """A bootstrap address: kept whatever happens to its dials. Returns its peer id."""
        peer_id = address.rsplit("/p2p/", 1)[-1]
        if not is_dialable(address, peer_id) or peer_id == self._own:
            return None
        self.pinned.add(peer_id)
        self.add(PeerEntry(peer_id, (address,)))
        return peer_id

    def add(self, entry: PeerEntry) -> bool:
        """Learn or update where a peer listens; False if refused (bad, ours, or the book is full)."""
        if entry.peer_id == self._own:
            return False
        addresses = tuple(dict.fromkeys(a for a in entry.addresses if is_dialable(a, entry.peer_id)))[:MAX_ADDRESSES]
        if not addresses:
            return False
        old = self._entries.get(entry.peer_id)
        if old is None and len(self._entries) >= MAX_ENTRIES and not self._evict_one():
            return False
        authority = entry.authority or (old.authority if old else None)
        new = PeerEntry(entry.peer_id, addresses, authority)
        if new != old:
            self._entries[entry.peer_id] = new
            self._dirty = True
        self._dials.setdefault(entry.peer_id, _DialState())
        return True

    def set_authority(self, peer_id: str, authority: Authority | None) -> None:
        old = self._entries.get(peer_id)
        if old is not None and old.authority != authority:
            self._entries[peer_id] = replace(old, authority=authority)
            self._dirty = True

    def _evict_one(self) -> bool:
        """Make room: drop the unpinned entry that failed most (never one reached or vouched for first)."""
        candidates = [
            peer for peer, entry in self._entries.items()
            if peer not in self.pinned and entry.authority is None and not self._dials[peer].reached
        ]
        if not candidates:
            return False
        self._forget(max(candidates, key=lambda peer: self._dials[peer].failures))
        return True

    def _forget(self, peer_id: str) -> None:
        self._entries.pop(peer_id, None)
        self._dials.pop(peer_id, None)
        self._dirty = True

    # --- what comes out -------------------------------------------------------------------

    def get(self, peer_id: str) -> PeerEntry | None:
        return self._entries.get(peer_id)

    def entries(self) -> list[PeerEntry]:
        return list(self._entries.values())

    def reached(self) -> list[PeerEntry]:
        """Entries we connected to at least once (what we tell others)."""
        return [entry for peer, entry in self._entries.items() if self._dials[peer].reached]

    def due(self, now: float, skip: set[str]) -> list[PeerEntry]:
        """Entries to dial now, authorities first, then those reached before, then the rest."""
        ready = [
            entry for peer, entry in self._entries.items()
            if peer not in skip and self._dials[peer].next_try <= now
        ]
        random.shuffle(ready)
        return sorted(ready, key=lambda e: (e.authority is None, not self._dials[e.peer_id].reached))

    # --- dial outcomes ----------------------------------------------------------------------

    def dialled(self, peer_id: str, now: float, ok: bool) -> None:
        state = self._dials.get(peer_id)
        if state is None:
            return
        if ok:
            self.connected(peer_id, now)
            return
        state.failures += 1
        state.backoff = min(state.backoff * 2, DIAL_BACKOFF_MAX_S)
        state.next_try = now + state.backoff * random.uniform(0.8, 1.2)
        if state.failures >= FORGET_AFTER_FAILURES and peer_id not in self.pinned and self._entries[peer_id].authority is None:
            log.info("forgetting peer %s: %d dials in a row failed", peer_id, state.failures)
            self._forget(peer_id)

    def connected(self, peer_id: str, now: float) -> None:
        """Reset its backoff: the next time it goes away it is redialled at once."""
        state = self._dials.get(peer_id)
        if state is None:
            return
        if not state.reached:
            self._dirty = True
        state.failures, state.backoff, state.reached = 0, DIAL_BACKOFF_MIN_S, True
        state.next_try = now + DIAL_BACKOFF_MIN_S

    # --- the file ---------------------------------------------------------------------------

    def load(self) -> int:
        """Read the peers kept by an earlier run; a damaged file is logged and ignored."""
        if self._path is None or not self._path.exists():
            return 0
        try:
            raw = json.loads(self._path.read_text())
            entries = [_entry_from_json(item) for item in raw["peers"]][:MAX_ENTRIES]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring %s: %s", self._path, exc)
            return 0
        loaded = 0
        for entry, reached in entries:
            # Authorities vouched for in an earlier run are checked again by whoever loads them.
            if self.add(replace(entry, authority=None)):
                self._dials[entry.peer_id].reached = reached
                loaded += 1
        self._dirty = False
        return loaded

    def save_if_changed(self) -> None:
        if self._path is None or not self._dirty:
            return
        document = {
            "peers": [
                {
                    "peer_id": entry.peer_id,
                    "addresses": list(entry.addresses),
                    "reached": self._dials[entry.peer_id].reached,
                }
                for entry in self._entries.values()
            ]
        }
        temp = self._path.with_suffix(".tmp")
        try:
            temp.write_text(json.dumps(document, indent=1) + "\n")
            os.replace(temp, self._path)
            self._dirty = False
        except OSError as exc:
            log.warning("could not keep known peers in %s: %s", self._path, exc)


def _entry_from_json(item: Any) -> tuple[PeerEntry, bool]:
    peer_id = item["peer_id"]
    addresses = item["addresses"]
    if not isinstance(peer_id, str) or not isinstance(addresses, list):
        raise TypeError("a peer entry needs a peer_id and a list of addresses")
    return PeerEntry(peer_id, tuple(str(a) for a in addresses)), bool(item.get("reached", False))

