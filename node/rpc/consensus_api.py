"""Consensus on the RPC: submit a block, equivocation evidence, the authority set and its votes."""

from __future__ import annotations

from aiohttp import web

from protocol.authorities import get_votes
from protocol.blocks import MAX_BLOCK_BYTES, decode_block
from protocol.evidence import decode_equivocation

from . import params
from .context import services_of
from .chain_views import header_view
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


async def list_evidence(request: web.Request) -> web.Response:
    """Proofs that an authority signed two different blocks at one height."""
    ledger = services_of(request).ledger
    found = []
    for raw in ledger.chain.evidence(limit=params.limit_param(request)):
        evidence = decode_equivocation(raw)
        found.append(
            {
                "proposer": evidence.proposer,
                "height": evidence.height,
                "headers": [header_view(header, final=False) for header in (evidence.first, evidence.second)],
            }
        )
    return web.json_response({"evidence": found})


async def get_authorities(request: web.Request) -> web.Response:
    """The authority set that signs the next block, and the standing votes to change it."""
    ledger = services_of(request).ledger
    votes = get_votes(ledger.chain)
    return web.json_response(
        {
            "head_height": ledger.head.height,
            "authorities": list(ledger.authorities),
            "votes": [
                {"candidate": candidate, "voter": voter, "add": add}
                for candidate, by_voter in votes.items()
                for voter, add in by_voter.items()
            ],
        }
    )
