"""Read-only range scans and seeks over the state key space, for the query indexes.

The rules only ever ``get`` state; queries also walk the ``ix/`` index keys in order.
A ``StateScan`` reads one LevelDB snapshot, so every read of one query sees the same
committed state even if a block commits meanwhile. Keys and prefixes here are state
keys (without the store's ``s/`` prefix).
"""

from __future__ import annotations

from typing import Iterator

import plyvel

from . import keys


class StateScan:
    def __init__(self, db: plyvel.DB) -> None:
        self._snapshot = db.snapshot()

    def close(self) -> None:
        self._snapshot.close()

    def __enter__(self) -> "StateScan":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, key: bytes) -> bytes | None:
        """A state read (``protocol.state.StateView``) on the snapshot."""
        return self._snapshot.get(keys.STATE + key)

    def items(
        self, prefix: bytes, *, start: bytes = b"", after: bytes | None = None, until: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """(suffix, value) under ``prefix`` in key order: from ``start`` (or strictly after ``after``), before ``until``."""
        full = keys.STATE + prefix
        first = full + after + b"\x00" if after is not None else full + start
        stop = full + until if until is not None else keys.prefix_end(full)
        for key, value in self._snapshot.iterator(start=first, stop=stop):
            yield key[len(full) :], value

    def suffixes(self, prefix: bytes, *, after: bytes | None = None, until: bytes | None = None) -> Iterator[bytes]:
        for suffix, _ in self.items(prefix, after=after, until=until):
            yield suffix

    def cursor(self, prefix: bytes) -> "Cursor":
        return Cursor(self._snapshot, keys.STATE + prefix)


class Cursor:
    """One sorted list of keys under a prefix, read by seeking (for intersections)."""

    def __init__(self, snapshot: plyvel.Snapshot, prefix: bytes) -> None:
        self._prefix = prefix
        self._iterator = snapshot.iterator(prefix=prefix, include_value=False)
        self.seeks = 0

    def seek(self, target: bytes) -> bytes | None:
        """The first suffix at or after ``target``, or None past the end."""
        self.seeks += 1
        self._iterator.seek(self._prefix + target)
        key = next(self._iterator, None)
        return None if key is None else key[len(self._prefix) :]
