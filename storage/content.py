"""The content blockstore: sealed audio, addressed by IPFS-compatible CIDs.

Only sealed streams are stored (protocol/sealing.py): an upload is sealed as it arrives,
before any byte of it is written, and the file kept is the sealed stream, named by the
root CID of its own UnixFS DAG (the *sealed CID*). The plain file's root CID (the asset
id), its size and media facts are recorded beside it; the plain bytes never reach the
disk, and the content key never does either.

Each file is kept whole, as one flat file named by its root CID, and LevelDB indexes
where each 256 KiB raw leaf lies in it (and holds the few dag-pb nodes). Writing the
bytes once, sequentially, is what makes ingest run near raw disk speed (see
bench/ingest.py), while every leaf is still served and verified by its own CID.

An upload goes to a temporary file first; only a complete, hashed file is renamed into
place and indexed, in one LevelDB batch. A node killed mid-upload leaves only a
temporary file, removed at the next start.

Content uploaded by a client stays *pending* until an asset registration names it:
pending content is bounded node-wide (bytes and files, counting uploads in progress) and
removed once it is older than a time to live (``sweep_pending``). Content fetched from
peers is never pending: it is fetched for an asset already registered, or on an
operator's request.

A leaf (256 KiB of bytes) can occur in several files, silence for one. The leaf index
points at the first file that held it, and each later file that also holds it is
recorded as a copy, so that removing a file re-points its leaves at a copy.
"""

from __future__ import annotations

import os
import threading
import uuid
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection

import plyvel

from protocol.cid import cid_to_str
from protocol.encoding import decode, encode
from protocol.sealing import SEALED_LEAF_SIZE, LEAF_SIZE, Sealer, leaf_count, open_leaf
from protocol.unixfs import Chunker, DagBuilder

from . import keys
from .direct_file import DirectFile
from .errors import ContentError, PendingBytesFull, PendingFilesFull, TooManyUploads
from .fsutil import fsync_directory, make_private_directory


@dataclass(frozen=True)
class ContentInfo:
    """A sealed file held here, and what is known of the plain file it seals."""

    cid: str
    """The sealed CID: root of the sealed stream's own UnixFS DAG."""
    size: int
    """Bytes of the sealed stream."""
    media: dict[str, Any] | None
    """Audio facts read at upload (format, duration_ms, sample_rate, channels), if audio."""
    asset: str | None = None
    """The plain file's root CID (the asset id), when this node knows which asset it seals."""
    asset_size: int | None = None
    """Bytes of the plain file, when known."""

    def to_wire(self) -> dict[str, Any]:
        return {
            "cid": self.asset,
            "size": self.asset_size,
            "sealed_cid": self.cid,
            "sealed_size": self.size,
            "media": self.media,
        }


@dataclass(frozen=True)
class UploadLimits:
    """What clients' uploads may take of a node at once."""

    max_concurrent: int
    """Uploads in progress."""
    max_pending_bytes: int
    """Bytes of content no registration names yet, uploads in progress included."""
    max_pending_files: int
    """Files no registration names yet, uploads in progress included."""


@dataclass(frozen=True)
class SweepResult:
    removed: tuple[str, ...]
    """Pending content older than its time to live, now deleted."""
    kept: tuple[str, ...]
    """Pending content a registration names: no longer pending, never removed."""


class ContentStore:
    def __init__(self, db: plyvel.DB, directory: Path) -> None:
        self._db = db
        self._files = directory / "files"
        self._tmp = directory / "tmp"
        for made in (directory, self._files, self._tmp):
            make_private_directory(made)
        # Uploads commit from worker threads while the sweeper removes: one at a time.
        self._lock = threading.Lock()
        self.pending_bytes = 0
        """Bytes of pending content plus what uploads in progress have written."""
        self.pending_files = 0
        self._uploads_in_flight = 0
        for _, raw in self._db.iterator(prefix=keys.CONTENT_PENDING):
            self.pending_bytes += decode(raw)["size"]
            self.pending_files += 1

    def remove_partial_uploads(self) -> int:
        """Delete what uploads cut off by a crash left behind; returns how many."""
        removed = 0
        for leftover in self._tmp.iterdir():
            leftover.unlink()
            removed += 1
        return removed

    def start_ingest(
        self, max_bytes: int, *, limits: UploadLimits | None = None, now_ms: int = 0, key: bytes | None = None
    ) -> "Ingest":
        """An ingest; with ``limits``, a client's upload, counted against those limits and kept as pending from ``now_ms``.

        With ``key`` it takes plain bytes and seals them with it; without, it takes a sealed stream.
        """
        if limits is not None:
            with self._lock:
                if self._uploads_in_flight >= limits.max_concurrent:
                    raise TooManyUploads(f"this node takes {limits.max_concurrent} uploads at a time; retry shortly")
                if self.pending_files + self._uploads_in_flight >= limits.max_pending_files:
                    raise PendingFilesFull(
                        f"this node holds {limits.max_pending_files} uploaded files that no asset registration names yet; "
                        "register them or wait until unregistered ones expire"
                    )
                self._uploads_in_flight += 1
        return Ingest(self, max_bytes, limits, now_ms, key)

    def _charge(self, size: int, limits: UploadLimits) -> None:
        with self._lock:
            if self.pending_bytes + size > limits.max_pending_bytes:
                raise PendingBytesFull(
                    f"uploaded content that no asset registration names yet would exceed this node's "
                    f"{limits.max_pending_bytes} bytes; register it or wait until unregistered uploads expire"
                )
            self.pending_bytes += size

    def _end_upload(self, refund: int) -> None:
        with self._lock:
            self.pending_bytes -= refund
            self._uploads_in_flight -= 1

    def sweep_pending(
        self, now_ms: int, ttl_ms: int, is_registered: Callable[[str], bool], awaited: Collection[str] = ()
    ) -> SweepResult:
        """Forget the pending mark of registered content and delete the rest once older than ``ttl_ms``.

        Content in ``awaited`` (named by a registration not yet in a block) stays pending and
        is not removed. Blocking I/O: call it off the event loop.
        """
        removed, kept = [], []
        for key, raw in list(self._db.iterator(prefix=keys.CONTENT_PENDING)):
            root, record = key[len(keys.CONTENT_PENDING) :].decode(), decode(raw)
            asset = record.get("asset", root)
            if asset in awaited:
                continue
            if is_registered(asset):
                with self._lock:
                    self._db.delete(key, sync=True)
                    self.pending_bytes -= record["size"]
                    self.pending_files -= 1
                kept.append(root)
            elif now_ms - record["at"] >= ttl_ms:
                self._remove(root, record)
                removed.append(root)
        return SweepResult(tuple(removed), tuple(kept))

    def _remove(self, root: str, record: dict[str, Any], *, pending: bool = True) -> None:
        with self._lock:
            with self._db.write_batch(transaction=True, sync=True) as batch:
                for leaf in set(record["leaves"]):
                    self._unindex_leaf(batch, leaf, root)
                batch.delete(keys.CONTENT_ROOT + root.encode())
                batch.delete(keys.CONTENT_PENDING + root.encode())
                asset = record.get("asset")
                if asset is not None and self._db.get(keys.CONTENT_SEALED + asset.encode()) == root.encode():
                    batch.delete(keys.CONTENT_SEALED + asset.encode())
            if pending:
                self.pending_bytes -= record["size"]
                self.pending_files -= 1
        # The dag-pb nodes stay: another file may share one, and they are a few bytes per leaf.
        self.path_of(root).unlink(missing_ok=True)
        fsync_directory(self._files)

    def list(self, *, after: str = "", limit: int = 100) -> list[ContentInfo]:
        """Sealed files held here, by sealed CID, the first ``limit`` after ``after``."""
        found = []
        start = keys.CONTENT_ROOT + after.encode() + b"\x00" if after else keys.CONTENT_ROOT
        stop = keys.CONTENT_ROOT[:-1] + bytes([keys.CONTENT_ROOT[-1] + 1])  # just past the prefix
        for key, _ in self._db.iterator(start=start, stop=stop):
            info = self.info(key[len(keys.CONTENT_ROOT) :].decode())
            if info is not None:
                found.append(info)
            if len(found) >= limit:
                break
        return found

    def remove(self, cid: str) -> ContentInfo | None:
        """Delete a sealed file (named by its sealed CID or its asset id) and its blocks; what was removed, or None.

        It is the node's copy only: the asset's record stays, and the file can be pulled
        again from any peer that holds it. Blocking I/O: call it off the event loop.
        """
        info = self.info(cid)
        if info is None:
            return None
        root = info.cid
        pending = self._db.get(keys.CONTENT_PENDING + root.encode())
        if pending is not None:
            self._remove(root, decode(pending))
            return info
        # Which leaves are this file's: the leaf index names each leaf's holder (or a copy's).
        leaves = {key[len(keys.CONTENT_LEAF) :] for key, value in self._db.iterator(prefix=keys.CONTENT_LEAF)
                  if decode(value)[0] == root}
        leaves |= {key[len(keys.CONTENT_LEAF_COPY) : -len(root)] for key in self._db.iterator(prefix=keys.CONTENT_LEAF_COPY, include_value=False)
                   if key.endswith(root.encode())}
        self._remove(root, {"leaves": sorted(leaves), "size": info.size, "asset": info.asset}, pending=False)
        return info

    def _unindex_leaf(self, batch: Any, leaf: bytes, root: str) -> None:
        batch.delete(keys.CONTENT_LEAF_COPY + leaf + root.encode())
        location = self._db.get(keys.CONTENT_LEAF + leaf)
        if location is None or decode(location)[0] != root:
            return
        prefix = keys.CONTENT_LEAF_COPY + leaf
        for copy_key, place in self._db.iterator(prefix=prefix):
            holder = copy_key[len(prefix) :].decode()
            if holder != root:
                batch.put(keys.CONTENT_LEAF + leaf, encode([holder, *decode(place)]))
                batch.delete(copy_key)
                return
        batch.delete(keys.CONTENT_LEAF + leaf)

    def info(self, cid: str) -> ContentInfo | None:
        """The sealed file ``cid`` names: a sealed CID, or an asset id whose upload was sealed here."""
        raw = self._db.get(keys.CONTENT_ROOT + cid.encode())
        if raw is None:
            sealed = self._db.get(keys.CONTENT_SEALED + cid.encode())
            if sealed is None:
                return None
            cid = sealed.decode()
            raw = self._db.get(keys.CONTENT_ROOT + sealed)
            if raw is None:
                return None
        facts = decode(raw)
        return ContentInfo(
            cid=cid, size=facts["size"], media=facts["media"], asset=facts.get("asset"), asset_size=facts.get("asset_size")
        )

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

    def _commit(
        self,
        temp: Path,
        size: int,
        leaves: list[tuple[bytes, int, int]],
        nodes,
        root: str,
        facts: dict[str, Any],
        pending_at: int | None,
    ) -> tuple[ContentInfo, bool]:
        """Index the file under ``root``; the info, and whether it is new here."""
        with self._lock:
            if self.has(root):
                temp.unlink()
                return self.info(root), False  # type: ignore[return-value]
            os.replace(temp, self.path_of(root))
            fsync_directory(self._files)
            with self._db.write_batch(transaction=True, sync=True) as batch:
                for leaf_cid, offset, length in leaves:
                    if self._db.get(keys.CONTENT_LEAF + leaf_cid) is None:
                        batch.put(keys.CONTENT_LEAF + leaf_cid, encode([root, offset, length]))
                    else:
                        batch.put(keys.CONTENT_LEAF_COPY + leaf_cid + root.encode(), encode([offset, length]))
                for node_cid, node in nodes:
                    batch.put(keys.CONTENT_NODE + node_cid, node)
                batch.put(keys.CONTENT_ROOT + root.encode(), encode({"size": size, **facts}))
                asset = facts.get("asset")
                if asset is not None:
                    batch.put(keys.CONTENT_SEALED + asset.encode(), root.encode())
                if pending_at is not None:
                    record = {"at": pending_at, "size": size, "leaves": sorted({leaf for leaf, _, _ in leaves})}
                    if asset is not None:
                        record["asset"] = asset
                    batch.put(keys.CONTENT_PENDING + root.encode(), encode(record))
            if pending_at is not None:
                self.pending_files += 1
        return self.info(root), True  # type: ignore[return-value]


class Ingest:
    """One upload or fetch in progress. ``write`` and ``finish`` do blocking I/O: call them off the event loop.

    With a content key (a client's upload) the plain bytes written are sealed before
    they reach the file, and the plain root CID is computed beside the sealed one;
    without one (a fetch from peers) the bytes are a sealed stream already.
    """

    def __init__(
        self, store: ContentStore, max_bytes: int, limits: UploadLimits | None, now_ms: int, key: bytes | None
    ) -> None:
        self._store = store
        self._max_bytes = max_bytes
        self._limits = limits
        self._now_ms = now_ms
        self._charged = 0
        self._ended = False
        self.temp_path = store._tmp / f"{uuid.uuid4().hex}.part"
        self._file = DirectFile(self.temp_path)
        self._chunker = Chunker()
        self._builder = DagBuilder()
        self._leaves: list[tuple[bytes, int, int]] = []
        self.size = 0
        """Sealed bytes written."""
        self._key = key
        self._sealer = Sealer(key) if key is not None else None
        self._plain_chunker = Chunker()
        self._plain_builder = DagBuilder()
        self.plain_size = 0
        self.plain_cid: str | None = None
        """The plain root CID, once ``close_file`` has sealed the last leaf."""

    def write(self, data: bytes) -> None:
        """Add plain bytes of an upload (sealed here), or sealed bytes when there is no key."""
        if self.plain_size + len(data) > self._max_bytes:
            raise ContentError(f"upload is larger than this node's limit of {self._max_bytes} bytes")
        self.plain_size += len(data)
        if self._sealer is None:
            self._write_sealed(data)
            return
        for leaf in self._plain_chunker.feed(data):
            self._plain_builder.add_leaf(leaf)
        for sealed in self._sealer.feed(data):
            self._write_sealed(sealed)

    def _write_sealed(self, data: bytes) -> None:
        for leaf in self._chunker.feed(data):
            self._add_leaf(leaf)

    def write_verified_leaves(self, leaves: list[tuple[bytes, bytes]]) -> None:
        """Append whole leaves of a sealed stream, as (raw-leaf CID, data) pairs already checked against their CIDs.

        For a fetch from peers: the leaves come cut and hashed, so they are written as
        they are instead of being re-cut and hashed again. A leaf that is not where this
        node's chunking would put it (a short leaf before the last) is refused, as the
        root it would build could not be the one asked for.
        """
        if self._chunker.pending or self._sealer is not None:
            raise ContentError("whole sealed leaves cannot follow a partial chunk or go into an upload")
        for cid, data in leaves:
            if self.size + len(data) > self._max_bytes:
                raise ContentError(f"content is larger than this node's limit of {self._max_bytes} bytes")
            try:
                self._builder.add_verified_leaf(cid, len(data))
            except ValueError as exc:
                raise ContentError(f"leaf {cid_to_str(cid)} does not fit this node's chunking: {exc}") from None
            self._store_leaf(cid, data)

    def _add_leaf(self, leaf: bytes) -> None:
        self._store_leaf(self._builder.add_leaf(leaf), leaf)

    def _store_leaf(self, cid: bytes, leaf: bytes) -> None:
        if self._limits is not None:
            self._store._charge(len(leaf), self._limits)
            self._charged += len(leaf)
        offset = self._file.size
        self._file.write(leaf)
        self.size += len(leaf)
        self._leaves.append((cid, offset, len(leaf)))

    def close_file(self) -> None:
        """Seal and write the last leaf and make the bytes durable; the file can then be probed."""
        if self._sealer is not None:
            tail = self._plain_chunker.flush()
            if tail is not None:
                self._plain_builder.add_leaf(tail)
            self.plain_cid = cid_to_str(self._plain_builder.finish().root)
            for sealed in self._sealer.finish(self.plain_cid):
                self._write_sealed(sealed)
        tail = self._chunker.flush()
        if tail is None and not self._leaves:
            tail = b""  # an empty file is one empty raw leaf, indexed so that it is served too
        if tail is not None:
            self._add_leaf(tail)
        self._file.close()

    def open_plain(self) -> "SealedFileReader":
        """The upload's plain bytes, opened from the sealed file leaf by leaf (after ``close_file``)."""
        if self._key is None or self.plain_cid is None:
            raise ValueError("only a closed upload has plain bytes to read")
        return SealedFileReader(self.temp_path, self._key, self.plain_cid, self.plain_size)

    def finish(self, media: dict[str, Any] | None, *, asset: str | None = None, asset_size: int | None = None) -> ContentInfo:
        """Index the closed file under its sealed root CID; idempotent for content already held.

        An upload records the plain CID it computed; a fetch records ``asset`` if it knows it.
        """
        if not self._file.closed:
            self.close_file()  # else the tail leaf would be missing from the CID and the file
        if self.plain_cid is not None:
            asset, asset_size = self.plain_cid, self.plain_size
        result = self._builder.finish()
        root = cid_to_str(result.root)
        pending_at = self._now_ms if self._limits is not None else None
        facts: dict[str, Any] = {"media": media}
        if asset is not None:
            facts |= {"asset": asset, "asset_size": asset_size}
        try:
            info, new = self._store._commit(self.temp_path, self.size, self._leaves, result.nodes, root, facts, pending_at)
        except BaseException:
            self._end(refund=self._charged)
            raise
        self._end(refund=0 if new else self._charged)
        return info

    def abort(self) -> None:
        self._file.abort()
        self.temp_path.unlink(missing_ok=True)
        self._end(refund=self._charged)

    def _end(self, refund: int) -> None:
        if self._limits is not None and not self._ended:
            self._ended = True
            self._store._end_upload(refund)


class SealedFileReader(io.RawIOBase):
    """A read-only, seekable view of the plain bytes of a sealed file, opened one leaf at a time.

    For what must read the plain audio at upload (media facts, fingerprint) without it
    ever being written out: only the leaf being read is held in memory.
    """

    def __init__(self, path: Path, key: bytes, plain_cid: str, plain_size: int) -> None:
        super().__init__()
        self._sealed = open(path, "rb")
        self._key = key
        self._plain_cid = plain_cid
        self._size = plain_size
        self._leaves = leaf_count(os.fstat(self._sealed.fileno()).st_size)
        self._pos = 0
        self._cached: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` as far as the file goes (across leaves: readers of audio expect full reads)."""
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view) and self._pos < self._size:
            index, within = divmod(self._pos, LEAF_SIZE)
            leaf = self._leaf(index)
            count = min(len(view) - filled, len(leaf) - within)
            view[filled : filled + count] = leaf[within : within + count]
            filled += count
            self._pos += count
        return filled

    def _leaf(self, index: int) -> bytes:
        if self._cached is None or self._cached[0] != index:
            self._sealed.seek(index * SEALED_LEAF_SIZE)
            sealed = self._sealed.read(SEALED_LEAF_SIZE)
            self._cached = (index, open_leaf(self._key, self._plain_cid, index, sealed, index == self._leaves - 1))
        return self._cached[1]

    def close(self) -> None:
        self._sealed.close()
        self._cached = None
        super().close()
