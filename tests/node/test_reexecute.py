"""``audiera-node verify`` judges every stored block by the header rules, as the importer does.

The chains here are written around the importer, straight into the store, as a buggy or
tampered node could have left them; verify must name the rule each one breaks.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from node.chain.reexecute import verify_stores
from node.files.genesis_file import write_genesis
from protocol.blocks import Block, sign_header
from protocol.state import BlockContext, apply_block
from storage.database import Stores, open_stores
from tests.storage.chain_helpers import carried, commit, key, register_participant

from .consensus_helpers import AUTHORITIES, GENESIS, Forge

A0, A1, A2, A3 = AUTHORITIES
"""In turn at height h: AUTHORITIES[h % 4]."""
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def stores(tmp_path):
    opened = open_stores(tmp_path / "data")
    opened.chain.init_genesis(GENESIS)
    yield opened
    opened.close()


def store_around_the_importer(stores: Stores, *blocks: Block) -> None:
    """Commit ``blocks`` on the head with no rule checked but the state they lead to."""
    chain = stores.chain
    for block in blocks:
        head = chain.head()
        result = apply_block(chain, block.events, BlockContext(block.height, block.header.ts), head.state_root)
        commit(chain, block, replace(result, finality=carried(chain, block.header.parent)), finalized_height=0)


def resigned(block: Block, signer, **changes) -> Block:
    return Block(sign_header(signer, replace(block.header, **changes)), block.events)


def verify(stores: Stores, head: Block) -> list[str]:
    return verify_stores(stores, GENESIS, now_ms=head.header.ts).problems


def test_a_chain_that_keeps_every_rule_verifies(stores, forge: Forge):
    b1 = forge.block(None, A1, [register_participant(key("alice"), 1, "alice")])
    b2 = forge.block(b1, A2)
    store_around_the_importer(stores, b1, b2)
    assert verify(stores, b2) == []


def test_an_out_of_turn_block_claiming_in_turn_difficulty_is_named(stores, forge: Forge):
    b1 = forge.block(None, A1, [register_participant(key("alice"), 1, "alice")])
    out_of_turn = forge.block(b1, A0)  # A2 is in turn at height 2
    assert out_of_turn.header.difficulty == 1
    claimed = resigned(out_of_turn, A0, difficulty=2)
    store_around_the_importer(stores, b1, claimed)
    problems = verify(stores, claimed)
    assert len(problems) == 1, problems
    assert problems[0].startswith("block 2 breaks rule difficulty:"), problems
    assert "signed out of turn but has difficulty 2, not 1" in problems[0]


def test_a_signing_limit_breach_is_named(stores, forge: Forge):
    # Four authorities: one block in any three, so A1 may not sign block 3 after block 2.
    b1, b2 = forge.chain(None, A1, A1)
    store_around_the_importer(stores, b1, b2)
    problems = verify(stores, b2)
    assert len(problems) == 1, problems
    assert problems[0].startswith("block 2 breaks rule signing_limit:"), problems


def test_a_header_not_signed_by_its_proposer_is_named(stores, forge: Forge):
    b1 = forge.block(None, A1)
    forged = resigned(b1, A3, proposer=A3.did)
    forged = Block(replace(forged.header, proposer=A1.did), forged.events)
    store_around_the_importer(stores, forged)
    problems = verify(stores, forged)
    assert len(problems) == 1 and problems[0].startswith("block 1 breaks rule signature:"), problems


def test_a_block_dated_too_early_is_named(stores, forge: Forge):
    b1 = forge.block(None, A1)
    early = forge.block(b1, A2, ts=b1.header.ts + GENESIS.block_period_ms - 1)
    store_around_the_importer(stores, b1, early)
    problems = verify(stores, early)
    assert len(problems) == 1 and problems[0].startswith("block 2 breaks rule timestamp:"), problems


def test_the_verify_command_names_the_rule(tmp_path, forge: Forge):
    data_dir, genesis_file, config = tmp_path / "data", tmp_path / "genesis.toml", tmp_path / "node.toml"
    write_genesis(genesis_file, GENESIS)
    config.write_text(f'[node]\ndata_dir = "{data_dir}"\ngenesis = "{genesis_file}"\n')
    b1 = forge.block(None, A1)
    claimed = resigned(forge.block(b1, A0), A0, difficulty=2)
    opened = open_stores(data_dir)
    try:
        opened.chain.init_genesis(GENESIS)
        store_around_the_importer(opened, b1, claimed)
    finally:
        opened.close()
    result = subprocess.run(
        [sys.executable, "-m", "node.main", "verify", "--config", str(config)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "problem: block 2 breaks rule difficulty:" in result.stdout, result.stdout
    assert "INCONSISTENT" in result.stdout
