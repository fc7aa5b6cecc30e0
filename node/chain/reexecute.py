"""``audiera-node verify``: re-execute the stored chain from genesis and check every index.

The store is trusted nowhere here: each canonical block is decoded (event signatures,
events root) and goes through ``protocol.transition.state_transition`` on a state rebuilt
in memory, as the importer does on import: the header rules (parent, authority, turn and
difficulty, signing limit, signature, timestamps) and the state root. Re-execution stops
at the first block that breaks a rule, since every block above it builds on it. Then the
event index, the history indexes, the head and the whole state key space must agree with
what re-execution produced. A node killed at any instant must pass this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocol.authorities import get_authorities
from protocol.blocks import Block, check_signatures, decode_block_unchecked
from protocol.encoding import decode
from protocol.errors import InvalidBlock, ProtocolError
from protocol.finality import HeaderFinality
from protocol.genesis import Genesis
from protocol.state import genesis_writes, next_state_root
from protocol.transition import FinalityContext, state_transition
from storage import keys
from storage.chain import ChainStore, ChainTip
from storage.database import Stores


@dataclass
class VerifyReport:
    head_height: int = 0
    blocks: int = 0
    events: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class _DictState:
    def __init__(self, values: dict[bytes, bytes]) -> None:
        self.values = values

    def get(self, key: bytes) -> bytes | None:
        return self.values.get(key)


def verify_stores(stores: Stores, genesis: Genesis, *, now_ms: int, max_problems: int = 20) -> VerifyReport:
    """Re-execute and cross-check the stored chain; ``now_ms`` is the clock the future-drift rule reads."""
    report = VerifyReport()
    chain = stores.chain
    try:
        _verify_chain(chain, stores, genesis, report, max_problems, now_ms)
    except _TooMany:
        report.problems.append("… stopped after too many problems")
    return report


class _TooMany(Exception):
    pass


def _decode_with_event_signatures(raw: bytes) -> Block:
    """Decode ``raw`` and check its events' signatures, leaving the header's to ``state_transition``,
    which names the rule when it fails."""
    block, owed = decode_block_unchecked(raw)
    check_signatures(signature for signature in owed if signature.where is not None)
    return block


def _verify_chain(
    chain: ChainStore, stores: Stores, genesis: Genesis, report: VerifyReport, max_problems: int, now_ms: int
) -> None:
    def problem(text: str) -> None:
        report.problems.append(text)
        if len(report.problems) >= max_problems:
            raise _TooMany

    head = chain.head()
    report.head_height = head.height
    writes = genesis_writes(genesis)
    state = _DictState({key: value for key, value in writes.items() if value is not None})
    parent = ChainTip(0, genesis.hash, next_state_root(genesis.hash, writes), genesis.timestamp)
    recent_proposers: list[str] = []
    expected_history: set[bytes] = set()
    # Justifications are checked as on import: the chain's hashes, and the set that signs each height.
    hashes = {0: genesis.hash}
    signing_sets = {1: get_authorities(state)}
    carried = HeaderFinality.genesis(genesis.hash)
    shown_justified = {carried.justified}
    for height in range(1, head.height + 1):
        block_hash = chain.hash_at(height)
        raw = chain.get_block_raw(block_hash) if block_hash else None
        if raw is None:
            problem(f"canonical block {height} is missing")
            return
        try:
            block = _decode_with_event_signatures(raw)
        except ProtocolError as exc:
            problem(f"block {height} does not decode: {exc.message}")
            return
        if block.hash != block_hash or block.height != height:
            problem(f"block {height} is not the block its canonical hash names")
        try:
            result = state_transition(
                parent,
                state,
                recent_proposers,
                block,
                period_ms=genesis.block_period_ms,
                now_ms=now_ms,
                signature_checked=False,
                finality=FinalityContext(carried, hashes.get, signing_sets.__getitem__, shown_justified.__contains__),
            )
        except InvalidBlock as exc:
            problem(f"block {height} breaks rule {exc.rule}: {exc.message}")
            return
        for key, value in result.writes.items():
            if value is None:
                state.values.pop(key, None)
            else:
                state.values[key] = value
        for index, (event, touched) in enumerate(zip(block.events, result.touched)):
            stored = chain.get_event(event.id)
            if stored is None or (stored.height, stored.index, stored.block_hash) != (height, index, block.hash):
                problem(f"event {event.id.hex()} of block {height} is not indexed where it lies")
            position = keys.position_bytes(height, index)
            for cid in touched.assets:
                expected_history.add(keys.history_prefix(keys.ASSET_HISTORY, cid) + position)
            for did in touched.accounts:
                expected_history.add(keys.history_prefix(keys.ACCOUNT_HISTORY, did) + position)
        if stores.db.get(keys.UNDO + block.hash) is None:
            problem(f"block {height} has no undo record")
        parent = ChainTip(height, block.hash, result.state_root, block.header.ts)
        hashes[height] = block.hash
        signing_sets[height + 1] = get_authorities(state)
        carried = result.finality or carried
        shown_justified.add(carried.justified)
        stored = chain.block_finality(block.hash)
        if stored is None or stored.finality != carried:
            problem(f"block {height}: the stored header finality is not what its headers carry")
        # The signing limit looks back fewer blocks than there are authorities.
        recent_proposers = [block.header.proposer, *recent_proposers][: len(get_authorities(state))]
        report.blocks += 1
        report.events += len(block.events)
    if head.hash != parent.hash or head.state_root != parent.state_root:
        problem("the stored head is not the last canonical block")
    if chain.hash_at(head.height + 1) is not None:
        problem(f"a canonical block is indexed above the head ({head.height + 1})")
    if chain.finalized().height > head.height:
        problem("the finalized height is above the head")
    stored_state = {key[len(keys.STATE):]: value for key, value in stores.db.iterator(prefix=keys.STATE)}
    if stored_state != state.values:
        differing = set(stored_state.items()) ^ set(state.values.items())
        problem(f"{len(differing)} state entries differ from re-execution")
    for space in (keys.ASSET_HISTORY, keys.ACCOUNT_HISTORY):
        for key, _ in stores.db.iterator(prefix=space):
            if key not in expected_history:
                problem(f"history index entry {key!r} belongs to no canonical event")
            expected_history.discard(key)
    if expected_history:
        problem(f"{len(expected_history)} history index entries are missing")
    for key, raw in stores.db.iterator(prefix=keys.EVENT):
        height, index, block_hash, _ = decode(raw)
        if chain.hash_at(height) != block_hash:
            problem(f"event {key[len(keys.EVENT):].hex()} is indexed in a block that is not canonical")
