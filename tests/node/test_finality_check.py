"""The CLI's local finality check: headers fetched from a node, their justifications checked here."""

from __future__ import annotations

from dataclasses import replace

import pytest

from node.cli.finality_check import check_finality, describe_check
from node.cli.proofs import ProofError
from node.rpc.chain_views import header_view
from protocol.blocks import Block, sign_header
from protocol.votes import justification_from_votes

from .consensus_helpers import AUTHORITIES, GENESIS, Forge, votes

A0, A1, A2, A3 = AUTHORITIES


class HeaderServer:
    """Answers /v1/genesis and /v1/headers from a list of blocks, as a node would."""

    def __init__(self, blocks: list[Block]) -> None:
        self.blocks = blocks

    def get(self, path: str, query=None):
        if path == "/v1/genesis":
            return {"hash": GENESIS.hash.hex(), "authorities": list(GENESIS.authorities)}
        assert path == "/v1/headers"
        start, limit = query["from"], query["limit"]
        chosen = [b for b in self.blocks if start <= b.height < start + limit]
        return {"headers": [header_view(b.header, final=False) for b in chosen], "head_height": self.blocks[-1].height}


def justified_chain() -> list[Block]:
    forge = Forge()
    b1 = forge.block(None, A1)
    b2 = forge.block(b1, A2)
    b3 = forge.block(b2, A3, justifications=(justification_from_votes(votes(None, b1, AUTHORITIES[:3])),))
    b4 = forge.block(b3, A0, justifications=(justification_from_votes(votes(b1, b2, AUTHORITIES[1:])),))
    return [b1, b2, b3, b4]


def test_a_block_whose_child_is_justified_in_the_headers_is_final_here() -> None:
    blocks = justified_chain()
    check = check_finality(HeaderServer(blocks), 1, blocks[0].hash.hex())
    assert check == {"checked": True, "final": True, "headers_checked": 4, "justified_height": 2, "final_height": 1}
    assert describe_check(check, True).startswith("final (4 headers' votes checked here")


def test_a_block_the_headers_only_justify_is_not_final_here() -> None:
    blocks = justified_chain()
    check = check_finality(HeaderServer(blocks), 2, blocks[1].hash.hex())
    assert check["final"] is False and check["final_height"] == 1
    assert "not yet by the headers" in describe_check(check, True)


def test_a_forged_vote_in_a_served_header_is_caught() -> None:
    blocks = justified_chain()
    good = blocks[2].header.justifications[0]
    forged = replace(good, votes=((good.votes[0][0], bytes(64)), *good.votes[1:]))
    blocks[2] = Block(sign_header(A3, replace(blocks[2].header, justifications=(forged,))), ())
    with pytest.raises(ProofError, match="bad justification"):
        check_finality(HeaderServer(blocks[:3]), 1, blocks[0].hash.hex())


def test_headers_that_do_not_chain_are_caught() -> None:
    blocks = justified_chain()
    with pytest.raises(ProofError, match="does not follow"):
        check_finality(HeaderServer([blocks[0], blocks[2], blocks[3]]), 1, blocks[0].hash.hex())
