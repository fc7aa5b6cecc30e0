"""A dictionary that keeps at most ``capacity`` entries, forgetting the oldest first.

Every cache of recent things in the node (ids seen on gossip, rejected events, decoded
messages waiting for their consumer) is one of these, so the bound is kept in one place.
Entries are forgotten in insertion order (FIFO); ``get`` does not refresh an entry,
because what these caches hold matters for a while after it arrived, not after it was used.

It is thread-safe: gossip validators run on the network thread and consumers on the
asyncio loop. The lock is never held across a call out of this class.
"""

from __future__ import annotations

import threading
from typing import Generic, Hashable, Iterable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a bounded cache holds at least one entry")
        self.capacity = capacity
        self._entries: dict[K, V] = {}
        self._lock = threading.Lock()

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries.pop(key, None)  # a key put again counts as new
            self._entries[key] = value
            self._evict()

    def put_many(self, items: Iterable[tuple[K, V]]) -> None:
        with self._lock:
            for key, value in items:
                self._entries.pop(key, None)
                self._entries[key] = value
            self._evict()

    def get(self, key: K) -> V | None:
        with self._lock:
            return self._entries.get(key)

    def pop(self, key: K) -> V | None:
        with self._lock:
            return self._entries.pop(key, None)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def frozen_keys(self) -> frozenset[K]:
        with self._lock:
            return frozenset(self._entries)

    def _evict(self) -> None:
        excess = len(self._entries) - self.capacity
        if excess > 0:
            entries = self._entries
            for key in [key for key, _ in zip(entries, range(excess))]:
                del entries[key]


class BoundedSet(Generic[K]):
    """A ``BoundedCache`` of keys alone: recently seen ids."""

    def __init__(self, capacity: int) -> None:
        self._cache: BoundedCache[K, None] = BoundedCache(capacity)

    def add(self, key: K) -> None:
        self._cache.put(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._cache

    def __len__(self) -> int:
        return len(self._cache)

    def frozen(self) -> frozenset[K]:
        """The keys held now, as an immutable set."""
        return self._cache.frozen_keys()
