"""Blocks a test signs itself with an authority key, sent to a node as a peer would send them.

With the authority keys of a scaffolded network in hand (``authority_key``) and no node
running them, a test decides exactly which blocks exist: ties, forks, equivocation, and
blocks that break a rule.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable

from node.files.genesis_file import load_genesis
from node.files.node_keys import read_key_file
from node.chain.ledger import Ledger
from protocol.blocks import Block, Header, compute_events_root, sign_header
from protocol.consensus import IN_TURN_DIFFICULTY, OUT_OF_TURN_DIFFICULTY, in_turn_authority
from protocol.events import Event
from protocol.keys import SigningKey
from protocol.state import BlockContext, apply_block, next_state_root
from storage.database import open_stores

from .framework import NodeProcess


def authority_key(network_dir: Path, index: int) -> SigningKey:
    """The authority key scaffold_network wrote for node ``index``."""
    return read_key_file(network_dir / f"node{index}" / "authority.key")


def empty_block(
    key: SigningKey,
    parent: dict[str, Any],
    *,
    in_turn: bool,
    ts: int | None = None,
    period_ms: int,
    state_root: bytes | None = None,
    difficulty: int | None = None,
    proposer: str | None = None,
) -> Block:
    """An empty block on ``parent`` (a header as GET /v1/blocks returns it, or the genesis as ``genesis_parent`` makes it).

    The keyword overrides make blocks that break one rule: a wrong state root or
    difficulty, or a proposer other than the signer (a forged signature).
    """
    parent_root = bytes.fromhex(parent["state_root"])
    header = Header(
        height=parent["height"] + 1,
        parent=bytes.fromhex(parent["hash"]),
        ts=parent["ts"] + period_ms if ts is None else ts,
        proposer=key.did,
        events_root=compute_events_root([]),
        state_root=next_state_root(parent_root, {}) if state_root is None else state_root,
        difficulty=(IN_TURN_DIFFICULTY if in_turn else OUT_OF_TURN_DIFFICULTY) if difficulty is None else difficulty,
    )
    signed = sign_header(key, header)
    if proposer is not None:
        signed = replace(signed, proposer=proposer)
    return Block(header=signed, events=())


def genesis_parent(node: NodeProcess) -> dict[str, Any]:
    """The genesis as a parent for block 1: its hash, state root and time."""
    status = node.get("/v1/status")
    genesis = node.get("/v1/genesis")
    assert status["head_height"] == 0, "genesis_parent is for a chain that has no block yet"
    return {"height": 0, "hash": genesis["hash"], "state_root": status["head_state_root"], "ts": genesis["timestamp"]}


def post_block(node: NodeProcess, block: Block) -> dict[str, Any]:
    return node.request("POST", "/v1/blocks", body=block.raw, content_type="application/msgpack")


def as_parent(block: Block) -> dict[str, Any]:
    """A block the test signed, as a parent for ``empty_block`` (the fields GET /v1/blocks would give)."""
    header = block.header
    return {"height": header.height, "hash": block.hash.hex(), "state_root": header.state_root.hex(), "ts": header.ts}


class LocalChain:
    """One branch of a scaffolded network's chain, kept by the test with the node's own ledger
    code, to sign blocks that carry events (their state root needs the state they apply to).

    ``add`` takes in a block made on another branch (a shared ancestor); ``sign`` makes the
    next block on this branch, with the difficulty its turn calls for.
    """

    def __init__(self, directory: Path, genesis_path: Path) -> None:
        self._stores = open_stores(directory)
        self.ledger = Ledger(self._stores.chain, load_genesis(genesis_path))

    def close(self) -> None:
        self._stores.close()

    @property
    def authorities(self) -> tuple[str, ...]:
        """The set that signs the next block on this branch."""
        return self.ledger.authorities

    def sign(self, key: SigningKey, events: Iterable[Event] = (), *, ts: int | None = None) -> Block:
        ledger = self.ledger
        head, events = ledger.head, tuple(events)
        height = head.height + 1
        ts = head.ts + ledger.genesis.block_period_ms if ts is None else ts
        result = apply_block(ledger.chain, events, BlockContext(height, ts), head.state_root)
        in_turn = in_turn_authority(ledger.authorities, height) == key.did
        header = Header(
            height=height,
            parent=head.hash,
            ts=ts,
            proposer=key.did,
            events_root=compute_events_root(events),
            state_root=result.state_root,
            difficulty=IN_TURN_DIFFICULTY if in_turn else OUT_OF_TURN_DIFFICULTY,
        )
        block = Block(header=sign_header(key, header), events=events)
        ledger.append(block, replace(result, finality=ledger.head_finality()))  # no justification carried
        return block

    def add(self, block: Block) -> None:
        ledger = self.ledger
        head = ledger.head
        assert block.header.parent == head.hash, "add takes a block on this branch's head"
        result = apply_block(ledger.chain, block.events, BlockContext(block.height, block.header.ts), head.state_root)
        assert result.state_root == block.header.state_root
        assert not block.header.justifications, "add takes blocks that carry no justification"
        ledger.append(block, replace(result, finality=ledger.head_finality()))
