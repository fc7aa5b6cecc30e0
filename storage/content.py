"""The content blockstore: uploaded audio, addressed by IPFS-compatible CIDs.

Each file is kept whole, as one flat file named by its root CID, and LevelDB indexes
where each 256 KiB raw leaf lies in it (and holds the few dag-pb nodes). Writing the
bytes once, sequentially, is what makes ingest run near raw disk speed (see
bench/ingest.py), while every leaf is still served and verified by its own CID.

An upload goes to a temporary file first; only a complete, hashed file is renamed into
place and indexed, in one LevelDB batch. A node killed mid-upload leaves only a
temporary file, removed at the next start.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plyvel

from protocol.cid import cid_to_str
from protocol.encoding import decode, encode
from protocol.unixfs import Chunker, DagBuilder

from . import keys
from .direct_file import DirectFile
from .errors import ContentError
from .fsutil import fsync_directory


@dataclass(frozen=True)
class ContentInfo:
    cid: str
    size: int
    media: dict[str, Any] | None
    """Audio facts read at upload (format, duration_ms, sample_rate, channels), if audio."""

    def to_wire(self) -> dict[str, Any]:
        return {"cid": self.cid, "size": self.size, "media": self.media}


class ContentStore:
    def __init__(self, db: plyvel.DB, directory: Path) -> None:
        self._db = db
        self._files = directory / "files"
        self._tmp = directory / "tmp"
        self._files.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)

    def remove_partial_uploads(self) -> int:
        """Delete what uploads cut off by a crash left behind; returns how many."""
        removed = 0
        for leftover in self._tmp.iterdir():
            leftover.unlink()
            removed += 1
        return removed

    def start_ingest(self, max_bytes: int) -> "Ingest":
        return Ingest(self, max_bytes)

    def info(self, cid: str) -> ContentInfo | None:
        raw = self._db.get(keys.CONTENT_ROOT + cid.encode())
        if raw is None:
            return None
        facts = decode(raw)
        return ContentInfo(cid=cid, size=facts["size"], media=facts["media"])

    def has(self, cid: str) -> bool:
        return self._db.get(keys.CONTENT_ROOT + cid.encode()) is not None

    def path_of(self, cid: str) -> Path:
        return self._files / cid

    def get_block(self, cid: bytes) -> bytes | None:
        """A leaf or dag-pb node by binary CID, as IPFS would serve it."""
        node = self._db.get(keys.CONTENT_NODE + cid)
        if node is not None:
            return node
        location = self._db.get(keys.CONTENT_LEAF + cid)
        if location is None:
            return None
        root, offset, length = decode(location)
        with open(self.path_of(root), "rb") as file:
            file.seek(offset)
            return file.read(length)

    def _commit(self, temp: Path, size: int, leaves: list[tuple[bytes, int, int]], nodes, root: str, media) -> ContentInfo:
        final = self.path_of(root)
        if self.has(root):
            temp.unlink()
            return self.info(root)  # type: ignore[return-value]
        os.replace(temp, final)
        fsync_directory(self._files)
        with self._db.write_batch(transaction=True, sync=True) as batch:
            for leaf_cid, offset, length in leaves:
                batch.put(keys.CONTENT_LEAF + leaf_cid, encode([root, offset, length]))
            for node_cid, node in nodes:
                batch.put(keys.CONTENT_NODE + node_cid, node)
            batch.put(keys.CONTENT_ROOT + root.encode(), encode({"size": size, "media": media}))
        return ContentInfo(cid=root, size=size, media=media)


class Ingest:
    """One upload in progress. ``write`` and ``finish`` do blocking I/O: call them off the event loop."""

    def __init__(self, store: ContentStore, max_bytes: int) -> None:
        self._store = store
        self._max_bytes = max_bytes
        self.temp_path = store._tmp / f"{uuid.uuid4().hex}.part"
        self._file = DirectFile(self.temp_path)
        self._chunker = Chunker()
        self._builder = DagBuilder()
        self._leaves: list[tuple[bytes, int, int]] = []
        self.size = 0

    def write(self, data: bytes) -> None:
        if self.size + len(data) > self._max_bytes:
            raise ContentError(f"upload is larger than this node's limit of {self._max_bytes} bytes")
        self.size += len(data)
        for leaf in self._chunker.feed(data):
            self._add_leaf(leaf)

    def write_verified_leaves(self, leaves: list[tuple[bytes, bytes]]) -> None:
        """Append whole leaves, as (raw-leaf CID, data) pairs already checked against their CIDs.

        For a fetch from peers: the leaves come cut and hashed, so they are written as
        they are instead of being re-cut and hashed again. A leaf that is not where this
        node's chunking would put it (a short leaf before the last) is refused, as the
        root it would build could not be the one asked for.
        """
        if self._chunker.pending:
            raise ContentError("whole leaves cannot follow a partial chunk")
        for cid, data in leaves:
            if self.size + len(data) > self._max_bytes:
                raise ContentError(f"content is larger than this node's limit of {self._max_bytes} bytes")
            try:
                self._builder.add_verified_leaf(cid, len(data))
            except ValueError as exc:
                raise ContentError(f"leaf {cid_to_str(cid)} does not fit this node's chunking: {exc}") from None
            self.size += len(data)
            self._store_leaf(cid, data)

    def _add_leaf(self, leaf: bytes) -> None:
        self._store_leaf(self._builder.add_leaf(leaf), leaf)

    def _store_leaf(self, cid: bytes, leaf: bytes) -> None:
        offset = self._file.size
        self._file.write(leaf)
        self._leaves.append((cid, offset, len(leaf)))

    def close_file(self) -> None:
        """Write the last leaf and make the bytes durable; the file can then be probed."""
        tail = self._chunker.flush()
        if tail is None and not self._leaves:
            tail = b""  # an empty file is one empty raw leaf, indexed so that it is served too
        if tail is not None:
            self._add_leaf(tail)
        self._file.close()

    def finish(self, media: dict[str, Any] | None) -> ContentInfo:
        """Index the closed file under its root CID; idempotent for content already held."""
        if not self._file.closed:
            self.close_file()  # else the tail leaf would be missing from the CID and the file
        result = self._builder.finish()
        root = cid_to_str(result.root)
        return self._store._commit(self.temp_path, self.size, self._leaves, result.nodes, root, media)

    def abort(self) -> None:
        self._file.abort()
        self.temp_path.unlink(missing_ok=True)

