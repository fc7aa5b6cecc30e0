"""Consensus on the RPC: submit a block or a finality vote, evidence, the authority set and its votes."""

from __future__ import annotations

from aiohttp import web

from protocol.authorities import get_votes
from protocol.blocks import MAX_BLOCK_BYTES, decode_block
from protocol.evidence import decode_equivocation, decode_vote_evidence
from protocol.votes import MAX_VOTE_BYTES, decode_vote

from . import params
from .context import services_of
from .chain_views import equivocation_view, vote_evidence_view
from .request_checks import MSGPACK_TYPES, check_body


async def submit_block(request: web.Request) -> web.Response:
    """A signed block, as a peer would send it: imported with every check, then gossiped on."""
    services = services_of(request)
    check_body(
        request, types=MSGPACK_TYPES, hint="send the block's canonical bytes as application/msgpack",
        max_bytes=MAX_BLOCK_BYTES, limit_message=f"a block may have at most {MAX_BLOCK_BYTES} bytes",
    )
    block = decode_block(await request.read())
    outcome = services.importer.import_block(block)
    services.network.announce_block(block)
    ledger = services.ledger
    return web.json_response(
        {
            "hash": block.hash.hex(),
            "height": block.height,
            "outcome": outcome,
            "head_height": ledger.head.height,
            "head_hash": ledger.head.hash.hex(),
        },
        status=202,
    )


async def submit_vote(request: web.Request) -> web.Response:
    """A signed finality vote, as a peer would gossip it: checked, counted, then gossiped on."""
    services = services_of(request)
    check_body(
        request, types=MSGPACK_TYPES, hint="send the vote's canonical bytes as application/msgpack",
        max_bytes=MAX_VOTE_BYTES, limit_message=f"a vote may have at most {MAX_VOTE_BYTES} bytes",
    )
    vote = decode_vote(await request.read())
    outcome = services.votes.add(vote)
    services.network.announce_vote(vote)
    ledger = services.ledger
    return web.json_response(
        {
            "voter": vote.voter,
            "target_height": vote.target_height,
            "target_hash": vote.target_hash.hex(),
            "outcome": outcome.value,
            "finalized_height": ledger.finalized.height,
        },
        status=202,
    )


async def list_evidence(request: web.Request) -> web.Response:
    """Proofs that an authority broke the rules: two headers at one height, or two slashable votes."""
    chain = services_of(request).ledger.chain
    limit = params.limit_param(request)
    return web.json_response(
        {
            "evidence": [equivocation_view(decode_equivocation(raw)) for raw in chain.evidence(limit=limit)],
            "vote_evidence": [vote_evidence_view(decode_vote_evidence(raw)) for raw in chain.vote_evidence(limit=limit)],
        }
    )


async def get_authorities(request: web.Request) -> web.Response:
    """The authority set that signs the next block, and the standing votes to change it."""
    ledger = services_of(request).ledger
    votes = get_votes(ledger.chain)
    return web.json_response(
        {
            "head_height": ledger.head.height,
            "authorities": list(ledger.authorities),
            "with_evidence": [did for did in ledger.authorities if ledger.chain.has_evidence_against(did)],
            "votes": [
                {"candidate": candidate, "voter": voter, "add": add}
                for candidate, by_voter in votes.items()
                for voter, add in by_voter.items()
            ],
        }
    )
