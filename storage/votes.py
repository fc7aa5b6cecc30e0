"""The finality votes the vote pool counted, kept so that a restart still knows what they justified.

An authority's own last vote (``last_vote.json``) forbids it a lower source after a restart:
the votes that justified that source must survive too, or with exactly a quorum of honest
authorities finality stops. Kept under ``keys.COUNTED_VOTE`` by target height, so the
votes at or below the final height go in one range delete as finality moves.
"""

from __future__ import annotations

from hashlib import sha256
from typing import Iterator

import plyvel

from protocol.votes import Vote, decode_vote, encode_vote

from . import keys

COUNTED_VOTE = keys.COUNTED_VOTE


class VoteStore:
    def __init__(self, db: plyvel.DB) -> None:
        self._db = db

    def put(self, vote: Vote) -> None:
        """Keep a vote whose signature was checked (a vote kept already is written over with itself)."""
        encoded = encode_vote(vote)
        self._db.put(COUNTED_VOTE + keys.height_bytes(vote.target_height) + sha256(encoded).digest(), encoded)

    def votes_above(self, height: int) -> Iterator[Vote]:
        """The votes kept for targets above ``height``, lowest target first (checked when kept)."""
        start = COUNTED_VOTE + keys.height_bytes(height + 1)
        for _, raw in self._db.iterator(start=start, stop=keys.prefix_end(COUNTED_VOTE)):
            yield decode_vote(raw, verify=False)

    def prune(self, up_to_height: int) -> None:
        """Forget the votes for targets at or below ``up_to_height`` (final: they can change nothing)."""
        stop = COUNTED_VOTE + keys.height_bytes(up_to_height + 1)
        with self._db.write_batch() as batch:
            for key in self._db.iterator(start=COUNTED_VOTE, stop=stop, include_value=False):
                batch.delete(key)

    def count(self) -> int:
        return sum(1 for _ in self._db.iterator(prefix=COUNTED_VOTE, include_value=False))
