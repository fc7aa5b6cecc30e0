"""Counts of what crosses the network: gossip messages by topic and verdict, sync and content bytes.

Counted where the traffic happens (the gossip validators, the syncer and the sync server,
the content exchange and the content server) and read whole by the RPC's ``/metrics`` at
each scrape. The counters are bumped from the network thread (validators), the asyncio
loop (sync, content fetches) and worker threads (the content server), so under a lock:
an uncontended lock costs less than the dictionary update it guards.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass

from .gossip_validation import Judgement, Validator, Verdict

GOSSIP_TOPICS = ("events", "blocks", "votes", "evidence")
"""The topics by the names metrics give them (the wire names carry the network tag and a version)."""


class Direction(enum.Enum):
    IN = "in"
    OUT = "out"


class Stream(enum.Enum):
    """The request/response protocols whose bytes are counted."""

    SYNC = "sync"
    CONTENT = "content"


@dataclass(frozen=True)
class TrafficCounts:
    """A consistent copy of the counters, every label present (zeros included)."""

    gossip: dict[tuple[str, Verdict], int]
    """Messages received per (topic, verdict)."""
    bytes: dict[tuple[Stream, Direction], int]
    """Bytes of requests and answers per (protocol, direction), as framed payloads."""


class TrafficCounters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gossip = {(topic, verdict): 0 for topic in GOSSIP_TOPICS for verdict in Verdict}
        self._bytes = {(stream, direction): 0 for stream in Stream for direction in Direction}

    def count_gossip(self, topic: str, verdict: Verdict) -> None:
        with self._lock:
            self._gossip[(topic, verdict)] += 1

    def exchange(self, stream: Stream, sent: bytes, received: bytes) -> None:
        """A request this node sent and the answer it received."""
        with self._lock:
            self._bytes[(stream, Direction.OUT)] += len(sent)
            self._bytes[(stream, Direction.IN)] += len(received)

    def served(self, stream: Stream, request: bytes, answer: bytes) -> None:
        """A request this node received and the answer it sent."""
        with self._lock:
            self._bytes[(stream, Direction.IN)] += len(request)
            self._bytes[(stream, Direction.OUT)] += len(answer)

    def counted(self, topic: str, validate: Validator) -> Validator:
        """``validate`` with every verdict it gives counted under ``topic``."""
        if topic not in GOSSIP_TOPICS:
            raise ValueError(f"unknown gossip topic {topic!r}")

        def validate_and_count(peer: str, data: bytes) -> Judgement:
            judgement = validate(peer, data)
            self.count_gossip(topic, judgement.verdict)
            return judgement

        return validate_and_count

    def snapshot(self) -> TrafficCounts:
        with self._lock:
            return TrafficCounts(dict(self._gossip), dict(self._bytes))
