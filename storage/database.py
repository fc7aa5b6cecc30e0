"""Opening a node's data directory: one LevelDB plus the content files beside it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import plyvel

from .chain import ChainStore
from .content import ContentStore
from .errors import StorageError
from .fsutil import make_private_directory


WRITE_BUFFER_BYTES = 32 * 1024 * 1024
"""LevelDB's memtable. Its 4 MiB default made a node under load (~1 MB of blocks a
second) flush and compact all the time: on a 4-node testnet at 1,200 events/s the
compaction thread took 5% of a core per node and events took 8.8 s (p50) to reach every
node, against 2.1 s with 32 MiB (bench/network.py). Costs up to twice this in memory."""


@dataclass
class Stores:
    db: plyvel.DB
    chain: ChainStore
    content: ContentStore

    def close(self) -> None:
        self.db.close()


def open_stores(data_dir: Path) -> Stores:
    """Open (creating if needed) the stores in ``data_dir``.

    LevelDB's lock on the directory is what keeps a second node off the same data
    (py-libp2p's listener would not notice: it sets SO_REUSEPORT).
    """
    try:
        make_private_directory(data_dir)
    except OSError as exc:
        raise StorageError(f"cannot create the data directory {data_dir}: {exc.strerror or exc}") from None
    try:
        # Bloom filters: most reads under load are for keys that are not there (a new
        # account, an event not yet included); without them each such read searches
        # every level (measured: 23 µs per absent key in 200k entries, 10 µs with them).
        db = plyvel.DB(
            str(data_dir / "chain"),
            create_if_missing=True,
            lru_cache_size=64 * 1024 * 1024,
            bloom_filter_bits=10,
            write_buffer_size=WRITE_BUFFER_BYTES,
            # As Bitcoin Core does: most of what we store is signatures, hashes and keys, and
            # Snappy took it only from 18 to 11.7 MB (a 20,000-event chain), for ~0.7 s of CPU
            # per memtable flush on a loaded node (every ~30 s at 1,200 events/s, on every
            # node at once: blocks then lagged 2-3 s for 15 s). Uncompressed: ~0.1 s a flush.
            compression=None,
        )
    except plyvel.IOError as exc:
        # LevelDB reports a held lock as "IO error: lock <dir>/LOCK: ..."; matching "lock"
        # anywhere would also match the LOCK file's path in unrelated errors, or a data
        # directory such as ~/blockchain.
        if _leveldb_message(exc).startswith("IO error: lock "):
            raise StorageError(f"{data_dir} is in use by another running node (its database is locked)") from None
        raise StorageError(f"cannot open the database in {data_dir}: {_leveldb_message(exc)}") from None
    except plyvel.CorruptionError as exc:
        raise StorageError(f"the database in {data_dir} is corrupt: {_leveldb_message(exc)}") from None
    make_private_directory(data_dir / "chain")  # LevelDB made it as the umask lets it
    return Stores(db=db, chain=ChainStore(db), content=ContentStore(db, data_dir / "content"))


def _leveldb_message(exc: Exception) -> str:
    """plyvel passes LevelDB's status text as bytes; str() of it would read b'...'."""
    raw = exc.args[0] if exc.args else ""
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
