"""Status, blocks, and events: submit one and follow it to final with its inclusion proof."""

from __future__ import annotations

from aiohttp import web

from protocol.errors import ProtocolError
from protocol.events import MAX_EVENT_BYTES
from protocol.votes import Checkpoint

from ..p2p.network import MAX_PERF_BYTES, P2PError, is_peer_id
from ..p2p.messages import decode_event_batch
from . import params
from .context import services_of
from .errors import ApiError, bad_request, not_found
from .chain_views import block_view, event_view, header_view, proof_view
from .finality_views import justifying_votes
from .request_checks import MSGPACK_TYPES, check_body, require_loopback
VERSION = "0.1.0"


async def get_status(request: web.Request) -> web.Response:
    services = services_of(request)
    ledger = services.ledger
    head, final = ledger.head, ledger.finalized
    justified = ledger.justified_on(head.hash, head.height)
    network = services.network.status()
    return web.json_response(
        {
            "version": VERSION,
            "network_id": services.genesis.network_id,
            "genesis_hash": services.genesis.hash.hex(),
            "head_height": head.height,
            "head_hash": head.hash.hex(),
            "head_time": head.ts,
            "head_state_root": head.state_root.hex(),
            "justified_height": justified.height,
            "justified_hash": justified.hash.hex(),
            "finalized_height": final.height,
            "finalized_hash": final.hash.hex(),
            "block_period_ms": services.genesis.block_period_ms,
            "head_total_difficulty": ledger.head_difficulty,
            "authorities": list(ledger.authorities),
            "authority": services.authority,
            "node_id": services.node_id,
            "peers": list(network.peers),
            "syncing": network.syncing,
            "peering": network.peering,
            "peering_only": None if network.peering_only is None else list(network.peering_only),
            "mempool": {"pending": services.mempool.ready_count, "queued": services.mempool.queued_count},
            "custody_at_risk": [risk.to_wire() for risk in services.custody_watch.at_risk],
        }
    )


async def read_event_bytes(request: web.Request, what: str = "the signed event") -> bytes:
    """The body of a request that carries one signed event, with its type and size checked."""
    check_body(
        request, types=MSGPACK_TYPES, hint=f"send {what}'s canonical bytes as application/msgpack",
        max_bytes=MAX_EVENT_BYTES, limit_message=f"an event may have at most {MAX_EVENT_BYTES} bytes",
    )
    return await request.read()


async def submit_event(request: web.Request) -> web.Response:
    services = services_of(request)
    raw = await read_event_bytes(request)
    submitted = services.intake.submit(raw)
    await services.intake.wait_journaled()
    return web.json_response(
        {"id": submitted.event.id.hex(), "status": submitted.admission.status, "known": submitted.admission.known},
        status=202,
    )


MAX_BATCH_EVENTS = 1000


async def submit_event_batch(request: web.Request) -> web.Response:
    """Many signed events in one request (a MessagePack array of their bytes); a result for each."""
    services = services_of(request)
    check_body(request, types=MSGPACK_TYPES, hint="send a MessagePack array of signed events as application/msgpack")
    try:
        raws = decode_event_batch(await request.read())
    except ProtocolError as exc:
        raise bad_request(exc.message) from None
    if len(raws) > MAX_BATCH_EVENTS:
        raise ApiError(413, "too_large", f"a batch may hold at most {MAX_BATCH_EVENTS} events")
    results: list[dict] = []
    for raw in raws:
        try:
            submitted = services.intake.submit(raw)
        except ProtocolError as exc:
            results.append({"error": {"code": exc.code, "message": exc.message}})
        else:
            results.append({"id": submitted.event.id.hex(), "status": submitted.admission.status})
    await services.intake.wait_journaled()
    return web.json_response({"results": results, "accepted": sum("id" in result for result in results)})


async def get_event(request: web.Request) -> web.Response:
    services = services_of(request)
    event_id = params.hex_id(request.match_info["id"], "an event id")
    stored = services.ledger.chain.get_event(event_id)
    if stored is not None:
        block = services.ledger.chain.get_block(stored.block_hash)
        assert block is not None
        event = block.events[stored.index]
        final = services.ledger.is_final(stored.height)
        return web.json_response(
            {
                "id": event_id.hex(),
                "status": "final" if final else "included",
                "event": event_view(event),
                "block": {"height": stored.height, "hash": stored.block_hash.hex(), "final": final},
                "index": stored.index,
                "events_root": block.header.events_root.hex(),
                "proof": proof_view(block.proof_for(stored.index)),
            }
        )
    waiting = services.mempool.get(event_id)
    if waiting is not None:
        return web.json_response(
            {"id": event_id.hex(), "status": services.mempool.status(event_id), "event": event_view(waiting)}
        )
    reason = services.mempool.rejection(event_id)
    if reason is not None:
        return web.json_response({"id": event_id.hex(), "status": "rejected", "reason": reason})
    raise not_found(f"event {event_id.hex()}")


def _resolve_block_hash(request: web.Request, ref: str) -> bytes:
    services = services_of(request)
    ledger = services.ledger
    if ref == "head":
        return ledger.head.hash
    if ref == "finalized":
        return ledger.finalized.hash
    if params.is_number(ref):
        found = ledger.chain.hash_at(params.height_param(ref, "a block height"))
        if found is None:
            raise not_found(f"block at height {ref}")
        if found == services.genesis.hash:
            raise ApiError(404, "not_found", "height 0 is the genesis, not a block; see /v1/genesis")
        return found
    if len(ref) == 64:
        return params.hex_id(ref, "a block hash")
    raise bad_request(f"{ref!r} is not a block height, a block hash, 'head' or 'finalized'")


async def get_block(request: web.Request) -> web.Response:
    ref = request.match_info["ref"]
    block_hash = _resolve_block_hash(request, ref)
    full = params.flag_param(request, "events")
    chain = services_of(request).ledger.chain
    if full:
        block = chain.get_block(block_hash)
        if block is None:
            raise not_found(f"block {ref}")
        final = services_of(request).ledger.is_final_block(block.hash, block.height)
        return web.json_response(_with_justification(request, block_view(block, final=final)))
    # Listing event ids needs no event parsed: each id is the hash of its bytes.
    found = chain.get_header_and_event_ids(block_hash)
    if found is None:
        raise not_found(f"block {ref}")
    header, event_ids = found
    view = header_view(header, final=services_of(request).ledger.is_final_block(header.hash, header.height))
    view["event_count"] = len(event_ids)
    view["events"] = [event_id.hex() for event_id in event_ids]
    return web.json_response(_with_justification(request, view))


def _with_justification(request: web.Request, view: dict) -> dict:
    """Add whether the block is justified and the votes that justify it."""
    ledger = services_of(request).ledger
    block_hash, height = bytes.fromhex(view["hash"]), view["height"]
    view["justified"] = ledger.votes.is_justified(Checkpoint(height, block_hash)) or ledger.is_final_block(block_hash, height)
    view["justified_by"] = justifying_votes(ledger, services_of(request).votes, block_hash, height)
    return view


async def list_headers(request: web.Request) -> web.Response:
    ledger = services_of(request).ledger
    start = params.height_param(request.query.get("from", "1"), "from", low=1)
    limit = params.limit_param(request)
    headers = []
    for height, block_hash in ledger.chain.iter_canonical(start, start + limit):
        found = ledger.chain.get_header_and_event_ids(block_hash)
        assert found is not None, f"canonical block {height} is missing"
        headers.append(header_view(found[0], final=ledger.is_final(height)))
    return web.json_response({"headers": headers, "head_height": ledger.head.height})


async def get_genesis(request: web.Request) -> web.Response:
    genesis = services_of(request).genesis
    return web.json_response({"hash": genesis.hash.hex(), **genesis.to_wire()})



async def get_peers(request: web.Request) -> web.Response:
    network = services_of(request).network
    status = network.status()
    return web.json_response({"peer_id": status.peer_id, "addresses": list(status.addresses), "peers": network.peers()})


async def get_sync(request: web.Request) -> web.Response:
    services = services_of(request)
    sync = services.network.sync_status()
    return web.json_response(
        {
            "syncing": sync.syncing,
            "head_height": services.ledger.head.height,
            "target_height": max(sync.target_height, services.ledger.head.height),
            "best_peer": sync.best_peer,
        }
    )


async def set_peering(request: web.Request) -> web.Response:
    """Operator switch: cut the node off from its peers (or all but some), or reconnect. Loopback clients only."""
    require_loopback(request)
    hint = 'send {"enabled": true|false} as JSON, optionally with "only": [peer ids] to keep just those peers'
    try:
        body = await request.json()
        enabled = body["enabled"]
        only = body.get("only")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise bad_request(hint) from None
    if not isinstance(enabled, bool):
        raise bad_request("enabled must be true or false")
    if only is not None and (not isinstance(only, list) or not all(isinstance(peer, str) for peer in only)):
        raise bad_request("only must be a list of peer ids")
    network = services_of(request).network
    await network.set_peering(enabled, None if only is None else frozenset(only))
    status = network.status()
    return web.json_response({"peering": status.peering, "peers": list(status.peers)})


async def measure_peer_stream(request: web.Request) -> web.Response:
    """The perf protocol, both ends. Loopback clients only.

    ``{"allow": PEER_ID, "bytes": N}`` switches this node's perf source on for that peer
    alone, for up to N bytes in all and a short while; ``{"peer": PEER_ID, "bytes": N}``
    measures one bare libp2p stream of N bytes from a peer that allowed this node: the
    transport's ceiling.
    """
    require_loopback(request)
    hint = 'send {"peer": PEER_ID, "bytes": N} to measure, or {"allow": PEER_ID, "bytes": N} to let that peer measure'
    try:
        body = await request.json()
        allowed, peer, size = body.get("allow"), body.get("peer"), body["bytes"]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise bad_request(hint) from None
    if (allowed is None) == (peer is None):
        raise bad_request(hint)
    if not isinstance(allowed or peer, str) or not is_peer_id(allowed or peer):
        raise bad_request("the peer must be a libp2p peer id")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_PERF_BYTES:
        raise bad_request(f"bytes must be a whole number from 1 to {MAX_PERF_BYTES}")
    network = services_of(request).network
    try:
        if allowed is not None:
            await network.allow_perf(allowed, size)
            return web.json_response({"allowed": allowed, "bytes": size})
        seconds = await network.measure_stream(peer, size)
    except P2PError as exc:
        raise ApiError(502, "perf_failed", exc.message) from None
    return web.json_response({"peer": peer, "bytes": size, "seconds": seconds, "mb_s": size / seconds / 1e6})
