"""An in-process proof-of-authority network for the importer and producer tests.

Four authorities, a genesis, nodes (a store, a Ledger, a BlockImporter and a mempool wired
as node/daemon.py wires them) and a Forge that signs valid blocks on any parent, keeping
each block's state in memory so a test can build competing branches.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from node.daemon import _update_mempool
from node.chain.importer import BlockImporter
from node.chain.ledger import HeadChange, Ledger
from node.chain.mempool import Mempool
from node.chain.vote_pool import VotePool
from protocol.authorities import get_authorities
from protocol.blocks import Block, sign_header
from protocol.consensus import IN_TURN_DIFFICULTY, OUT_OF_TURN_DIFFICULTY, in_turn_authority
from protocol.events import Event
from protocol.evidence import Equivocation, VoteEvidence
from protocol.finality import HeaderFinality, apply_justifications
from protocol.genesis import Genesis
from protocol.keys import SigningKey
from protocol.votes import Checkpoint, Justification, Vote, sign_vote, unsigned_vote
from protocol.state import genesis_writes, next_state_root
from storage import keys
from storage.chain import ChainTip
from storage.database import Stores, open_stores
from storage.votes import VoteStore
from tests.storage.chain_helpers import GENESIS_TS, build_block, key

PERIOD_MS = 1000
AUTHORITIES = tuple(key(f"consensus-authority-{index}") for index in range(4))
"""In turn at height h: AUTHORITIES[h % 4]."""
GENESIS = Genesis(
    network_id="consensus-test",
    timestamp=GENESIS_TS,
    authorities=tuple(a.did for a in AUTHORITIES),
    block_period_ms=PERIOD_MS,
    allocations=(),
)


class FakeClock:
    """A clock that says what the test sets (ms)."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@dataclass
class Node:
    stores: Stores
    ledger: Ledger
    importer: BlockImporter
    mempool: Mempool
    votes: VotePool
    changes: list[HeadChange] = field(default_factory=list)
    evidence: list[Equivocation] = field(default_factory=list)
    vote_evidence: list[VoteEvidence] = field(default_factory=list)

    @property
    def chain(self):
        return self.stores.chain

    def state(self) -> dict[bytes, bytes]:
        return {k[len(keys.STATE):]: v for k, v in self.stores.db.iterator(prefix=keys.STATE)}

    def import_all(self, *blocks: Block) -> list[str]:
        return [self.importer.import_block(block) for block in blocks]


def start_node(data_dir: Path, clock: FakeClock) -> Node:
    stores = open_stores(data_dir)
    ledger = Ledger(stores.chain, GENESIS)
    mempool = Mempool(stores.chain, max_events=1000, max_future_nonces=8)
    ledger.add_listener(lambda change: _update_mempool(mempool, change, GENESIS.block_period_ms))
    node = Node(stores, ledger, BlockImporter(ledger, clock), mempool, VotePool(ledger, VoteStore(stores.db)))
    ledger.add_listener(node.changes.append)
    node.importer.on_evidence(node.evidence.append)
    node.votes.on_evidence(node.vote_evidence.append)
    node.votes.on_justified(node.importer.reconsider)
    return node


def checkpoint(block: Block | None) -> Checkpoint:
    return Checkpoint(0, GENESIS.hash) if block is None else Checkpoint(block.height, block.hash)


def votes(source: Block | None, target: Block, signers) -> list[Vote]:
    """Votes for the link source -> target (None: the genesis) by each of ``signers``."""
    return [sign_vote(k, unsigned_vote(k.did, checkpoint(source), checkpoint(target))) for k in signers]


class Forge:
    """Signs valid blocks on any known parent: state by apply_block, difficulty by turn, ts one period on."""

    def __init__(self, genesis: Genesis = GENESIS) -> None:
        writes = genesis_writes(genesis)
        self._period = genesis.block_period_ms
        self.genesis_hash = genesis.hash
        self._tips = {genesis.hash: ChainTip(0, genesis.hash, next_state_root(genesis.hash, writes), genesis.timestamp)}
        self._states: dict[bytes, dict[bytes, bytes]] = {genesis.hash: {k: v for k, v in writes.items() if v is not None}}
        self._finality = {genesis.hash: HeaderFinality.genesis(genesis.hash)}
        self._parents: dict[bytes, bytes] = {}

    def block(
        self,
        parent: Block | None,
        signer: SigningKey,
        events: list[Event] | tuple[Event, ...] = (),
        *,
        ts: int | None = None,
        state_root: bytes | None = None,
        justifications: tuple[Justification, ...] = (),
    ) -> Block:
        """A block by ``signer`` on ``parent`` (None: the genesis); ``state_root`` forces a wrong one;
        ``justifications`` go into its header (and must be valid on its chain)."""
        tip = self._tips[self.genesis_hash if parent is None else parent.hash]
        state = self._states[tip.hash]
        ts = tip.ts + self._period if ts is None else ts
        block, result = build_block(
            state, tip.hash, tip.height, tip.state_root, list(events), proposer=signer, ts=ts, state_root=state_root,
            finality=self._finality[tip.hash],
        )
        in_turn = in_turn_authority(get_authorities(state), block.height) == signer.did
        difficulty = IN_TURN_DIFFICULTY if in_turn else OUT_OF_TURN_DIFFICULTY
        if block.header.difficulty != difficulty or justifications:  # build_block signs every block as in turn
            header = replace(block.header, difficulty=difficulty, justifications=justifications)
            block = Block(sign_header(signer, header), block.events)
        self._parents[block.hash] = tip.hash
        self._finality[block.hash] = apply_justifications(
            self._finality[tip.hash], block.header, lambda height: self._ancestor(tip.hash, height),
            lambda height: get_authorities(self._states[self._ancestor(tip.hash, height - 1)]),
            carried_justified=lambda checkpoint: self._shown_justified(tip.hash, checkpoint),
        )
        self._tips[block.hash] = ChainTip(block.height, block.hash, block.header.state_root, ts)
        after = dict(state)
        for k, v in result.writes.items():
            if v is None:
                after.pop(k, None)
            else:
                after[k] = v
        self._states[block.hash] = after
        return block

    def _shown_justified(self, block_hash: bytes, checkpoint) -> bool:
        """Whether a header from the genesis up to ``block_hash`` showed ``checkpoint`` justified."""
        while True:
            if self._finality[block_hash].justified == checkpoint:
                return True
            if block_hash not in self._parents:
                return False
            block_hash = self._parents[block_hash]

    def _ancestor(self, block_hash: bytes, height: int) -> bytes:
        while self._tips[block_hash].height > height:
            block_hash = self._parents[block_hash]
        return block_hash

    def finality(self, block: Block) -> HeaderFinality:
        return self._finality[block.hash]

    def chain(self, parent: Block | None, *signers: SigningKey) -> list[Block]:
        """Empty blocks by ``signers`` in order, each on the one before."""
        blocks = []
        for signer in signers:
            parent = self.block(parent, signer)
            blocks.append(parent)
        return blocks

    def state(self, block: Block) -> dict[bytes, bytes]:
        """The full state after ``block``, as re-executing its branch from genesis gives it."""
        return dict(self._states[block.hash])
