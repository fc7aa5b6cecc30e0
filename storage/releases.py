"""Key releases this node made or received, by access: not consensus state, a node's own record.

Kept under ``keys.KEY_RELEASE`` by access and share index, and ``keys.RELEASED_UP_TO``:
the height up to which this node has made its own releases, so a restart resumes there.
"""

from __future__ import annotations

import plyvel

from protocol.encoding import decode, encode
from protocol.releases import KeyRelease, decode_release, encode_release

from . import keys

RELEASE = keys.KEY_RELEASE
RELEASED_UP_TO = keys.RELEASED_UP_TO


class ReleaseStore:
    def __init__(self, db: plyvel.DB) -> None:
        self._db = db

    def add(self, release: KeyRelease) -> bool:
        """Keep a checked release; False if one for the same access and share was kept before."""
        key = RELEASE + release.access + bytes([release.index])
        if self._db.get(key) is not None:
            return False
        self._db.put(key, encode_release(release))
        return True

    def for_access(self, access: bytes) -> list[KeyRelease]:
        """Every release kept for ``access``, by share index."""
        prefix = RELEASE + access
        return [decode_release(raw, verify=False) for _, raw in self._db.iterator(prefix=prefix)]

    def has(self, access: bytes, index: int) -> bool:
        return self._db.get(RELEASE + access + bytes([index])) is not None

    def count_for(self, access: bytes) -> int:
        return sum(1 for _ in self._db.iterator(prefix=RELEASE + access, include_value=False))

    def released_up_to(self) -> int:
        raw = self._db.get(RELEASED_UP_TO)
        return 0 if raw is None else decode(raw)

    def set_released_up_to(self, height: int) -> None:
        self._db.put(RELEASED_UP_TO, encode(height))
