"""The chain store: blocks, the canonical index, events, history indexes and state.

Applying a block commits everything it changes (block, events, indexes, state, undo
record, head) in one LevelDB WriteBatch written with sync, so a node killed at any
instant restarts at the last whole block and loses nothing it had reported final.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import plyvel

from protocol.authorities import AUTHORITIES_KEY
from protocol.blocks import HEADER_VERSION, ZERO_HASH, Block, Header, decode_block, peek_block
from protocol.encoding import decode, decode_stored, encode, sha256
from protocol.evidence import VoteEvidence
from protocol.finality import HeaderFinality
from protocol.genesis import Genesis
from protocol.state import BlockResult, genesis_writes, next_state_root
from protocol.votes import Checkpoint

from . import keys
from .errors import OtherNetwork, StorageError
from .state_scan import StateScan


@dataclass(frozen=True)
class ChainTip:
    height: int
    hash: bytes
    state_root: bytes
    ts: int


@dataclass(frozen=True)
class BlockMeta:
    height: int
    parent: bytes
    total_difficulty: int
    """Sum of the difficulties of this block and its ancestors (fork choice weighs branches by it)."""


@dataclass(frozen=True)
class BlockFinality:
    """What a validated block's headers show of finality, and who signs its child."""

    finality: HeaderFinality
    next_authorities: tuple[str, ...]
    """The authority set after applying the block: the set that signs (and votes on) its children."""


@dataclass(frozen=True)
class AppliedBlock:
    """A block with the result of applying it and the state values it overwrote (its undo record)."""

    block: Block
    result: BlockResult
    undo: dict[bytes, bytes | None]
    total_difficulty: int = 0
    """0: computed from the parent's."""


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
                raise OtherNetwork(stored, genesis.hash)
            written = self._db.get(keys.FORMAT)
            if written != _FORMAT:
                version = 1 if written is None else decode(written)
                raise StorageError(
                    f"this data directory holds blocks of header version {version}; this node reads version "
                    f"{HEADER_VERSION} (vote finality). Start over with a new --data-dir (or `audiera testnet up --reset`)"
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
            batch.put(keys.GENESIS_TIP, _encode_tip(tip))
            batch.put(keys.TREE + genesis.hash, encode([0, ZERO_HASH, 0]))
            batch.put(keys.FORMAT, _FORMAT)
            authorities = tuple(decode_stored(writes[AUTHORITIES_KEY]))
            genesis_finality = BlockFinality(HeaderFinality.genesis(genesis.hash), authorities)
            batch.put(keys.FINALITY + genesis.hash, _encode_finality(genesis_finality))
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

    # --- the block tree -----------------------------------------------------------------

    def block_meta(self, block_hash: bytes) -> BlockMeta | None:
        """Where a stored block sits in the tree (canonical or not), or None if it is unknown."""
        raw = self._db.get(keys.TREE + block_hash)
        if raw is None:
            return None
        height, parent, total_difficulty = decode(raw)
        return BlockMeta(height, parent, total_difficulty)

    def block_finality(self, block_hash: bytes) -> BlockFinality | None:
        """The header finality of a validated block (canonical now or once), or None."""
        raw = self._db.get(keys.FINALITY + block_hash)
        return None if raw is None else _decode_finality(raw)

    def set_finalized(self, block_hash: bytes) -> ChainTip:
        """Record a canonical block as the final tip; never moves it down or off the canonical chain."""
        tip = self.tip_of(block_hash)
        if self.hash_at(tip.height) != block_hash:
            raise StorageError(f"block {tip.height} {block_hash.hex()[:12]} is not canonical and cannot be final")
        if tip.height > self.finalized().height:
            self._db.put(keys.FINALIZED, _encode_tip(tip), sync=True)
        return self.finalized()

    def is_canonical(self, block_hash: bytes, height: int) -> bool:
        return self.hash_at(height) == block_hash

    def store_side_block(self, block: Block, total_difficulty: int) -> None:
        """Keep a block that does not extend the head, so that fork choice can switch to its branch."""
        with self._db.write_batch() as batch:
            self._put_tree(batch, block, total_difficulty)

    def signed_at(self, proposer: str, height: int) -> list[bytes]:
        """Hashes of the stored blocks ``proposer`` signed at ``height``."""
        prefix = keys.signed_prefix(proposer, height)
        return [key[len(prefix):] for key, _ in self._db.iterator(prefix=prefix)]

    def put_evidence(self, proposer: str, height: int, headers: tuple[bytes, bytes]) -> bool:
        """Keep the first proof that ``proposer`` signed two blocks at ``height``; False if one is kept already."""
        key = keys.evidence_key(proposer, height)
        if self._db.get(key) is not None:
            return False
        self._db.put(key, encode(list(headers)), sync=True)
        return True

    def put_vote_evidence(self, evidence: VoteEvidence) -> bool:
        """Keep checked vote evidence; False if this very pair is kept already."""
        encoded = evidence.encode()
        key = keys.vote_evidence_key(evidence.voter, evidence.height, sha256(encoded))
        if self._db.get(key) is not None:
            return False
        self._db.put(key, encoded, sync=True)
        return True

    def vote_evidence(self, limit: int = 100) -> list[bytes]:
        """Stored vote evidence, each the encoding of a VoteEvidence."""
        found = []
        for _, raw in self._db.iterator(prefix=keys.VOTE_EVIDENCE):
            found.append(raw)
            if len(found) >= limit:
                break
        return found

    def has_evidence_against(self, did: str) -> bool:
        """Whether any stored evidence (double-signed headers or slashable votes) names ``did``."""
        for space in (keys.EVIDENCE, keys.VOTE_EVIDENCE):
            for _ in self._db.iterator(prefix=keys.history_prefix(space, did), include_value=False):
                return True
        return False

    def evidence(self, limit: int = 100) -> list[bytes]:
        """Stored equivocation proofs, each the encoding of a pair of signed headers."""
        found = []
        for _, raw in self._db.iterator(prefix=keys.EVIDENCE):
            found.append(raw)
            if len(found) >= limit:
                break
        return found

    # --- the one write path -----------------------------------------------------------

    def commit_block(self, block: Block, result: BlockResult) -> ChainTip:
        """Append ``block`` on the head, with everything it changes, in one atomic write."""
        head = self.head()
        header = block.header
        if header.parent != head.hash or header.height != head.height + 1:
            raise StorageError(f"block {header.height} does not extend the head at height {head.height}")
        undo = {key: self.get(key) for key in result.writes}
        return self.switch_branch([], [AppliedBlock(block, result, undo)])

    def switch_branch(self, revert: list[Block], apply: list[AppliedBlock]) -> ChainTip:
        """Undo ``revert`` (the head first) and apply ``apply`` (oldest first), in one atomic write.

        With ``revert`` empty this appends; otherwise it is a reorg: state goes back through
        each reverted block's undo record, its events and history entries are removed,
        then the new branch is written as ``commit_block`` would write each of its blocks.
        """
        head = self.head()
        if revert and revert[0].hash != head.hash:
            raise StorageError("a reorg must start from the head")
        fork = revert[-1].header.parent if revert else head.hash
        fork_height = revert[-1].height - 1 if revert else head.height
        if fork_height < self.finalized().height:
            raise StorageError(f"switching branch at height {fork_height} would revert final blocks")
        parent, parent_height = fork, fork_height
        for applied in apply:
            header = applied.block.header
            if header.parent != parent or header.height != parent_height + 1:
                raise StorageError(f"block {header.height} does not extend block {parent_height}")
            if applied.result.state_root != header.state_root:
                raise StorageError(f"block {header.height}: its state root does not match the result of applying it")
            parent, parent_height = applied.block.hash, header.height
        tip = head
        with self._db.write_batch(transaction=True, sync=True) as batch:
            for block in revert:
                self._revert(batch, block)
                tip = self.tip_of(block.header.parent)
            pending: dict[bytes, int] = {}  # total difficulty of blocks written in this batch
            authorities: dict[bytes, tuple[str, ...]] = {}  # the same for the set that signs each one's child
            for applied in apply:
                tip = self._apply(batch, applied, pending, authorities)
            for height in range(tip.height + 1, head.height + 1):
                batch.delete(keys.CANONICAL + keys.height_bytes(height))
            batch.put(keys.HEAD, _encode_tip(tip))
        return tip

    def _apply(
        self, batch: Any, applied: AppliedBlock, pending: dict[bytes, int], authorities: dict[bytes, tuple[str, ...]]
    ) -> ChainTip:
        block, result = applied.block, applied.result
        header = block.header
        if result.finality is None:
            raise StorageError(f"block {header.height} was not checked by the block transition (no header finality)")
        raw_set = result.writes.get(AUTHORITIES_KEY)
        if raw_set is not None:
            next_authorities = tuple(decode_stored(raw_set))
        elif header.parent in authorities:
            next_authorities = authorities[header.parent]
        else:
            parent_finality = self.block_finality(header.parent)
            if parent_finality is None:
                raise StorageError(f"block {header.height}: its parent has no finality record")
            next_authorities = parent_finality.next_authorities
        authorities[block.hash] = next_authorities
        batch.put(keys.FINALITY + block.hash, _encode_finality(BlockFinality(result.finality, next_authorities)))
        # The parent may be an earlier block of this same write, not yet readable from the db.
        parent_difficulty = pending.get(header.parent)
        if parent_difficulty is None:
            parent_meta = self.block_meta(header.parent)
            parent_difficulty = parent_meta.total_difficulty if parent_meta else 0
        total_difficulty = applied.total_difficulty or parent_difficulty + header.difficulty
        pending[block.hash] = total_difficulty
        self._put_tree(batch, block, total_difficulty)
        batch.put(keys.CANONICAL + keys.height_bytes(header.height), block.hash)
        index_keys = []
        for index, (event, touched) in enumerate(zip(block.events, result.touched)):
            batch.put(keys.EVENT + event.id, encode([header.height, index, block.hash, event.raw]))
            position = keys.position_bytes(header.height, index)
            history = [keys.history_prefix(keys.ASSET_HISTORY, cid) for cid in dict.fromkeys(touched.assets)]
            history += [keys.history_prefix(keys.ACCOUNT_HISTORY, did) for did in dict.fromkeys(touched.accounts)]
            for prefix in history:
                batch.put(prefix + position, event.id)
                index_keys.append(prefix + position)
        for key, value in result.writes.items():
            if value is None:
                batch.delete(keys.STATE + key)
            else:
                batch.put(keys.STATE + key, value)
        undo_state = [[key, value] for key, value in sorted(applied.undo.items())]
        batch.put(keys.UNDO + block.hash, encode([undo_state, index_keys]))
        return ChainTip(header.height, block.hash, header.state_root, header.ts)

    def _revert(self, batch: Any, block: Block) -> None:
        raw = self._db.get(keys.UNDO + block.hash)
        if raw is None:
            raise StorageError(f"block {block.height} has no undo record; it cannot be reverted")
        undo_state, index_keys = decode(raw)
        for key, value in undo_state:
            if value is None:
                batch.delete(keys.STATE + key)
            else:
                batch.put(keys.STATE + key, value)
        for key in index_keys:
            batch.delete(key)
        for event in block.events:
            batch.delete(keys.EVENT + event.id)
        batch.delete(keys.CANONICAL + keys.height_bytes(block.height))
        batch.delete(keys.UNDO + block.hash)

    def undo_writes(self, block_hash: bytes) -> dict[bytes, bytes | None]:
        """The state values a canonical block overwrote (what reverting it writes back)."""
        raw = self._db.get(keys.UNDO + block_hash)
        if raw is None:
            raise StorageError(f"block {block_hash.hex()[:12]} has no undo record")
        return {key: value for key, value in decode(raw)[0]}

    def _put_tree(self, batch: Any, block: Block, total_difficulty: int) -> None:
        header = block.header
        batch.put(keys.BLOCK + block.hash, block.raw)
        batch.put(keys.TREE + block.hash, encode([header.height, header.parent, total_difficulty]))
        batch.put(keys.signed_prefix(header.proposer, header.height) + block.hash, b"")

    def tip_of(self, block_hash: bytes) -> ChainTip:
        """The tip a stored block (or the genesis) makes, whether it is canonical or not."""
        raw = self.get_block_raw(block_hash)
        if raw is None:
            genesis = _decode_tip(self._require(keys.GENESIS_TIP, "genesis tip"))
            if genesis.hash == block_hash:
                return genesis
            raise StorageError(f"block {block_hash.hex()[:12]} is missing from the store")
        header, _ = peek_block(raw)
        return ChainTip(header.height, header.hash, header.state_root, header.ts)


_FORMAT = encode(HEADER_VERSION)


def _encode_finality(record: BlockFinality) -> bytes:
    return encode([*record.finality.to_wire(), list(record.next_authorities)])


def _decode_finality(raw: bytes) -> BlockFinality:
    justified_height, justified_hash, final_height, final_hash, authorities = decode(raw)
    finality = HeaderFinality(Checkpoint(justified_height, justified_hash), Checkpoint(final_height, final_hash))
    return BlockFinality(finality, tuple(authorities))


def _encode_tip(tip: ChainTip) -> bytes:
    return encode([tip.height, tip.hash, tip.state_root, tip.ts])


def _decode_tip(raw: bytes) -> ChainTip:
    height, block_hash, state_root, ts = decode(raw)
    return ChainTip(height, block_hash, state_root, ts)
