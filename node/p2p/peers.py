"""What this node knows about its peers: their chain status and how well they behave."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from .messages import Status

log = logging.getLogger("audiera.p2p.peers")

BAN_SCORE = -100
"""A peer whose score falls this low is dropped and refused until restart."""

# How much each kind of misbehaviour costs. Invalid data costs more than a slow answer:
# the first can only be malice or a bug, the second can be load.
PENALTY_INVALID_GOSSIP = 25
PENALTY_INVALID_BLOCK = 50
PENALTY_BAD_RESPONSE = 25
PENALTY_FAILED_REQUEST = 5


@dataclass
class PeerRecord:
    peer_id: str
    status: Status | None = None
    score: int = 0
    strikes: list[str] = field(default_factory=list)
    """The most recent reasons the score went down."""

    def to_json(self) -> dict[str, Any]:
        status = self.status
        return {
            "peer_id": self.peer_id,
            "head_height": status.head_height if status else None,
            "head_hash": status.head_hash.hex() if status else None,
            "total_difficulty": status.total_difficulty if status else None,
            "finalized_height": status.finalized_height if status else None,
            "score": self.score,
            "recent_strikes": self.strikes[-5:],
        }


class PeerBook:
    def __init__(self) -> None:
        self._peers: dict[str, PeerRecord] = {}
        self.banned: set[str] = set()

    def connected(self, peer_id: str) -> PeerRecord:
        return self._peers.setdefault(peer_id, PeerRecord(peer_id))

    def disconnected(self, peer_id: str) -> None:
        self._peers.pop(peer_id, None)

    def get(self, peer_id: str) -> PeerRecord | None:
        return self._peers.get(peer_id)

    def records(self) -> list[PeerRecord]:
        return sorted(self._peers.values(), key=lambda record: record.peer_id)

    def set_status(self, peer_id: str, status: Status) -> None:
        self.connected(peer_id).status = status

    def penalize(self, peer_id: str, penalty: int, reason: str) -> bool:
        """Lower a peer's score; True when it has fallen to the ban threshold."""
        record = self.connected(peer_id)
        record.score -= penalty
        record.strikes = [*record.strikes[-9:], reason]
        log.warning("peer %s scored down to %d: %s", peer_id, record.score, reason)
        if record.score <= BAN_SCORE and peer_id not in self.banned:
            self.banned.add(peer_id)
            return True
        return False

    def best_ahead(self, total_difficulty: int, is_known: Callable[[bytes], bool]) -> PeerRecord | None:
        """The peer whose head could move ours: the heaviest with more total difficulty than
        ``total_difficulty``, or as much on a head block we do not have (a tie fork choice settles)."""

        def could_move(record: PeerRecord) -> bool:
            status = record.status
            if status is None or record.peer_id in self.banned:
                return False
            if status.total_difficulty != total_difficulty:
                return status.total_difficulty > total_difficulty
            return not is_known(status.head_hash)

        candidates = [record for record in self._peers.values() if could_move(record)]
        return max(candidates, key=lambda record: record.status.total_difficulty, default=None)  # type: ignore[union-attr]
