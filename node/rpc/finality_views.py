"""The votes behind a block's justification, for ``GET /v1/blocks/{ref}``.

Where a descendant's header carries the block's justification, that one (anyone can check
it against the header chain); otherwise the votes for it this node has seen on gossip.
"""

from __future__ import annotations

from typing import Any

from protocol.votes import justification_from_votes

from ..chain.ledger import Ledger
from ..chain.vote_pool import VotePool
from .chain_views import justification_view

HEADER_SEARCH = 16
"""How many canonical descendants are searched for a header carrying the block's justification."""


def justifying_votes(ledger: Ledger, pool: VotePool, block_hash: bytes, height: int) -> list[dict[str, Any]]:
    chain = ledger.chain
    if chain.hash_at(height) == block_hash:
        for descendant in range(height + 1, min(ledger.head.height, height + HEADER_SEARCH) + 1):
            carrier = chain.hash_at(descendant)
            found = chain.get_header_and_event_ids(carrier) if carrier is not None else None
            if found is None:
                continue
            for justification in found[0].justifications:
                if justification.target_hash == block_hash:
                    return [{**justification_view(justification), "carried_in": carrier.hex()}]  # type: ignore[union-attr]
    by_link: dict[Any, list] = {}
    for vote in pool.votes_for(block_hash, height):
        by_link.setdefault(vote.link, []).append(vote)
    return [{**justification_view(justification_from_votes(votes)), "carried_in": None} for votes in by_link.values()]
