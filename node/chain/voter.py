"""This node's finality votes, when it is an authority: the honest voting rule.

When a block becomes the canonical head, vote for it (target = the head; source = the
highest justified block on the head's chain below it) only if the target is above every
target voted before and the source is not below any source voted before. Those two rules
are exactly what makes a double vote or a surround vote impossible. The last vote is
written to the data directory and fsync'd before the vote leaves the node, so a restart
(even after SIGKILL) never signs a second vote at a height it voted at.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from protocol.keys import SigningKey
from protocol.votes import Checkpoint, Vote, sign_vote, unsigned_vote

from .ledger import HeadChange, Ledger
from .vote_pool import VotePool

log = logging.getLogger("audiera.voter")

RECORD_FILE = "last_vote.json"


class VoteRecordError(Exception):
    """The last-vote record cannot be read: voting stops rather than risk a double vote."""


@dataclass(frozen=True)
class LastVote:
    target_height: int
    source_height: int

    def allows(self, source: Checkpoint, target: Checkpoint) -> bool:
        return target.height > self.target_height and source.height >= self.source_height


class VoteRecord:
    """The durable last vote, in ``data_dir/last_vote.json``."""

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / RECORD_FILE

    def read(self) -> LastVote:
        try:
            raw = json.loads(self._path.read_text())
            return LastVote(int(raw["target_height"]), int(raw["source_height"]))
        except FileNotFoundError:
            return LastVote(0, 0)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise VoteRecordError(
                f"{self._path} is unreadable ({exc}); this node will not vote until it is fixed or removed "
                "(remove it only if this key has never voted above the chain's head)"
            ) from None

    def write(self, last: LastVote) -> None:
        """Replace the record atomically and durably (fsync the file, then the directory)."""
        temporary = self._path.with_suffix(".tmp")
        with open(temporary, "w") as file:
            json.dump({"target_height": last.target_height, "source_height": last.source_height}, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self._path)
        directory = os.open(self._path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


class Voter:
    def __init__(
        self, ledger: Ledger, pool: VotePool, key: SigningKey, record: VoteRecord, publish: Callable[[Vote], None]
    ) -> None:
        self._ledger = ledger
        self._pool = pool
        self._key = key
        self._record = record
        self._publish = publish
        self._last = record.read()

    def start(self) -> None:
        """Vote for the head now (if the rule allows) and on every head change from now on."""
        self._ledger.add_listener(self._on_head_change)
        self.vote_for_head()

    def _on_head_change(self, change: HeadChange) -> None:
        self.vote_for_head()

    def vote_for_head(self) -> Vote | None:
        """Sign, record, count and gossip a vote for the head, if we are an authority for it and may."""
        ledger = self._ledger
        head = ledger.head
        if head.height == 0:
            return None
        target = Checkpoint(head.height, head.hash)
        authorities = ledger.authorities_for(target)
        if authorities is None or self._key.did not in authorities:
            return None
        parent = Checkpoint(head.height - 1, ledger.chain.block_meta(head.hash).parent)  # type: ignore[union-attr]
        source = ledger.votes.highest_justified_on(parent)
        if not self._last.allows(source, target):
            return None
        last = LastVote(target.height, source.height)
        self._record.write(last)
        self._last = last
        vote = sign_vote(self._key, unsigned_vote(self._key.did, source, target))
        self._pool.add(vote)
        self._publish(vote)
        return vote
