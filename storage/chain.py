"""The chain store: blocks, the canonical index, events, history indexes and state.

Applying a block commits everything it changes (block, events, indexes, state, undo
record, head) in one LevelDB WriteBatch written with sync, so a node killed at any
instant restarts at the last whole block and loses nothing it had reported final.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import plyvel

from protocol.blocks import Block, Header, decode_block, peek_block
from protocol.encoding import decode, encode, sha256
from protocol.genesis import Genesis
from protocol.state import BlockResult, genesis_writes, next_state_root

from . import keys
from .errors import StorageError
from .state_scan import StateScan


@dataclass(frozen=True)
class ChainTip:
    height: int
    hash: bytes
    state_root: bytes
    ts: int


@dataclass(frozen=True)
class StoredEvent:
    height: int
    index: int
    block_hash: bytes
    raw: bytes


@dataclass(frozen=True)
class HistoryEntry:
    height: int
    index: int
    event_id: bytes


class ChainStore:
    """Reads and atomic block commits over one LevelDB. Also the node's ``StateView``."""

    def __init__(self, db: plyvel.DB) -> None:
        self._db = db

    # --- genesis --------------------------------------------------------------------

    def init_genesis(self, genesis: Genesis) -> ChainTip:
        """Write the genesis state on first start; on later starts check it is the same network."""
        stored = self._db.get(keys.GENESIS)
        if stored is not None:
            if stored != genesis.hash:
                raise StorageError(
                    f"this data directory holds network {stored.hex()[:16]}…, not genesis {genesis.hash.hex()[:16]}…; "
                    "use another --data-dir or the genesis it was created with"
                )
            return self.head()
        writes = genesis_writes(genesis)
        tip = ChainTip(0, genesis.hash, next_state_root(genesis.hash, writes), genesis.timestamp)
        with self._db.write_batch(transaction=True, sync=True) as batch:
            for key, value in writes.items():
                batch.put(keys.STATE + key, value)
            batch.put(keys.GENESIS, genesis.hash)
            batch.put(keys.CANONICAL + keys.height_bytes(0), genesis.hash)
            batch.put(keys.HEAD, _encode_tip(tip))
            batch.put(keys.FINALIZED, _encode_tip(tip))
        return tip

    # --- reads ----------------------------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        """State read (``protocol.state.StateView``)."""
        return self._db.get(keys.STATE + key)

    def head(self) -> ChainTip:
        return _decode_tip(self._require(keys.HEAD, "chain head"))

    def finalized(self) -> ChainTip:
        return _decode_tip(self._require(keys.FINALIZED, "finalized tip"))

    def hash_at(self, height: int) -> bytes | None:
        return self._db.get(keys.CANONICAL + keys.height_bytes(height))

    def get_block_raw(self, block_hash: bytes) -> bytes | None:
        return self._db.get(keys.BLOCK + block_hash)

    def get_block(self, block_hash: bytes) -> Block | None:
        raw = self.get_block_raw(block_hash)
        # Stored blocks were verified on the way in: decode strictly, skip the signatures.
        return None if raw is None else decode_block(raw, verify=False)

    def get_header_and_event_ids(self, block_hash: bytes) -> tuple[Header, list[bytes]] | None:
        """A block's header and its event ids, cheaply (no event is parsed)."""
        raw = self.get_block_raw(block_hash)
        if raw is None:
            return None
        header, raw_events = peek_block(raw)
        return header, [sha256(event) for event in raw_events]

    def has_event(self, event_id: bytes) -> bool:
        return self._db.get(keys.EVENT + event_id) is not None

    def get_event(self, event_id: bytes) -> StoredEvent | None:
        raw = self._db.get(keys.EVENT + event_id)
        if raw is None:
            return None
        height, index, block_hash, event_raw = decode(raw)
        return StoredEvent(height, index, block_hash, event_raw)

    def asset_history(self, cid: str, *, after: tuple[int, int] | None = None, limit: int = 100) -> list[HistoryEntry]:
        return self._history(keys.history_prefix(keys.ASSET_HISTORY, cid), after, limit)

    def account_history(self, did: str, *, after: tuple[int, int] | None = None, limit: int = 100) -> list[HistoryEntry]:
        return self._history(keys.history_prefix(keys.ACCOUNT_HISTORY, did), after, limit)

    def _history(self, prefix: bytes, after: tuple[int, int] | None, limit: int) -> list[HistoryEntry]:
        """Up to ``limit`` entries in chain order, starting after the (height, index) cursor."""
        start = prefix if after is None else prefix + keys.position_bytes(*after) + b"\x00"
        entries = []
        for key, value in self._db.iterator(start=start, stop=keys.prefix_end(prefix)):
            height, index = keys.parse_position(key[len(prefix):])
            entries.append(HistoryEntry(height, index, value))
            if len(entries) >= limit:
                break
        return entries

    def iter_canonical(self, start: int, stop: int) -> Iterator[tuple[int, bytes]]:
        it = self._db.iterator(
            start=keys.CANONICAL + keys.height_bytes(start), stop=keys.CANONICAL + keys.height_bytes(stop)
        )
        for key, value in it:
            yield int.from_bytes(key[len(keys.CANONICAL):], "big"), value

    def scan_state(self) -> StateScan:
        """A read-only snapshot of the committed state for index queries (close it, or use ``with``)."""
        return StateScan(self._db)

    def _require(self, key: bytes, what: str) -> bytes:
        value = self._db.get(key)
        if value is None:
            raise StorageError(f"the store has no {what}: it was never initialised with a genesis")
        return value

    # --- the one write path -----------------------------------------------------------

    def commit_block(self, block: Block, result: BlockResult, *, finalized_height: int) -> ChainTip:
        """Append ``block`` on the head, with everything it changes, in one atomic write."""
        head = self.head()
        header = block.header
        if header.parent != head.hash or header.height != head.height + 1:
            raise StorageError(f"block {header.height} does not extend the head at height {head.height}")
        if result.state_root != header.state_root:
            raise StorageError("the block's state root does not match the result of applying it")
        tip = ChainTip(header.height, block.hash, header.state_root, header.ts)
        final_tip = None
        if finalized_height >= header.height:
            final_tip = tip
        elif finalized_height > self.finalized().height:
            final_tip = self._tip_at(finalized_height)
        undo = {key: self.get(key) for key in result.writes}
        with self._db.write_batch(transaction=True, sync=True) as batch:
            batch.put(keys.BLOCK + block.hash, block.raw)
            batch.put(keys.CANONICAL + keys.height_bytes(header.height), block.hash)
            for index, (event, touched) in enumerate(zip(block.events, result.touched)):
                batch.put(keys.EVENT + event.id, encode([header.height, index, block.hash, event.raw]))
                position = keys.position_bytes(header.height, index)
                for cid in dict.fromkeys(touched.assets):
                    batch.put(keys.history_prefix(keys.ASSET_HISTORY, cid) + position, event.id)
                for did in dict.fromkeys(touched.accounts):
                    batch.put(keys.history_prefix(keys.ACCOUNT_HISTORY, did) + position, event.id)
            for key, value in result.writes.items():
                if value is None:
                    batch.delete(keys.STATE + key)
                else:
                    batch.put(keys.STATE + key, value)
            batch.put(keys.UNDO + block.hash, encode([[key, value] for key, value in sorted(undo.items())]))
            batch.put(keys.HEAD, _encode_tip(tip))
            if final_tip is not None:
                batch.put(keys.FINALIZED, _encode_tip(final_tip))
        return tip

    def _tip_at(self, height: int) -> ChainTip:
        block_hash = self.hash_at(height)
        raw = self.get_block_raw(block_hash) if block_hash is not None else None
        if raw is None:
            raise StorageError(f"canonical block {height} is missing from the store")
        header = decode_block(raw, verify=False).header
        return ChainTip(height, header.hash, header.state_root, header.ts)


def _encode_tip(tip: ChainTip) -> bytes:
    return encode([tip.height, tip.hash, tip.state_root, tip.ts])


def _decode_tip(raw: bytes) -> ChainTip:
    height, block_hash, state_root, ts = decode(raw)
    return ChainTip(height, block_hash, state_root, ts)
