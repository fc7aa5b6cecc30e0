"""Finality votes a test signs itself with an authority key, posted to a node as a peer would gossip them."""

from __future__ import annotations

from typing import Any

from protocol.keys import SigningKey
from protocol.votes import Checkpoint, Vote, encode_vote, sign_vote, unsigned_vote

from .framework import NodeProcess


def signed_vote(key: SigningKey, source: tuple[int, str], target: tuple[int, str]) -> Vote:
    """A vote by ``key`` for the link source -> target, each given as (height, hex hash)."""
    return sign_vote(
        key,
        unsigned_vote(key.did, Checkpoint(source[0], bytes.fromhex(source[1])), Checkpoint(target[0], bytes.fromhex(target[1]))),
    )


def post_vote(node: NodeProcess, vote: Vote) -> dict[str, Any]:
    return node.request("POST", "/v1/votes", body=encode_vote(vote), content_type="application/msgpack")


def finality(node: NodeProcess) -> tuple[int, int]:
    """(justified height, finalized height) as the node's status gives them."""
    status = node.get("/v1/status")
    return status["justified_height"], status["finalized_height"]
