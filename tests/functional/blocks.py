"""Blocks a test signs itself with an authority key, sent to a node as a peer would send them.

With the authority keys of a scaffolded network in hand (``authority_key``) and no node
running them, a test decides exactly which blocks exist: ties, forks, equivocation, and
blocks that break a rule.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from node.keyfiles import read_key_file
from protocol.blocks import Block, Header, compute_events_root, sign_header
from protocol.consensus import IN_TURN_DIFFICULTY, OUT_OF_TURN_DIFFICULTY
from protocol.keys import SigningKey
from protocol.state import next_state_root

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
