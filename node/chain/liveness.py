"""When this node last heard from each authority: what tells a slow authority from one that is down.

The producer asks it before signing out of turn (``protocol.consensus.out_of_turn_sign_time``).
Only signed objects count, and only once checked: a block whose header signature the
gossip validator verified (and, once authorities vote, their votes), never a peer's own
claim, which anyone could make to hold the network back.
"""

from __future__ import annotations

import threading

from .clock import Clock


class AuthorityLiveness:
    """Last time (ms, by ``clock``) something signed by each authority arrived; safe from any thread.

    Written by gossip validators on the network thread, read by the producer on the
    asyncio loop.
    """

    def __init__(self, clock: Clock, capacity: int = 1024) -> None:
        self._clock = clock
        self._capacity = capacity
        self._heard: dict[str, int] = {}
        self._lock = threading.Lock()

    def heard(self, authority: str) -> None:
        """Something ``authority`` signed has just arrived and checked out."""
        now = self._clock()
        with self._lock:
            self._heard.pop(authority, None)
            self._heard[authority] = now
            if len(self._heard) > self._capacity:  # a bound, whoever signs: the oldest goes
                del self._heard[next(iter(self._heard))]

    def last_heard_ms(self, authority: str) -> int | None:
        """When ``authority`` was last heard from, or None if never since this node started."""
        with self._lock:
            return self._heard.get(authority)
