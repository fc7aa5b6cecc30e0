"""Licensed download: sealed content is served only after this node admits a signed ``access`` event.

What is served is the asset's sealed stream, never plain audio: it opens only with the
asset's content key.

``POST /v1/access`` takes the consumer's signed access event (application/msgpack). The
node checks what only it can (the event names this node, asks for the whole content it
holds, and carries the author's next nonce, so it is applied now and never waits in a
queue), then admits it through the normal intake: the mempool applies it on the
pending state, where the rules check the license in force and charge per-access terms.
A refusal by the rules is a 403 with their reason and no byte is served; otherwise the
sealed content streams back with its length, and the access is on its way into a block. An
access event is used once: submitting it again serves nothing. Like any paid download,
an access admitted is an access made, even if the client goes away mid-stream.
"""

from __future__ import annotations

import logging

from aiohttp import web

from protocol.errors import ProtocolError
from protocol.events import Access, decode_event

from node.chain.mempool import PENDING
from .chain_api import read_event_bytes
from .content_api import open_sealed, sealed_content_info, stream_sealed
from .context import services_of
from .errors import ApiError, bad_request

log = logging.getLogger("audiera.rpc.access")


async def post_access(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    raw = await read_event_bytes(request, "the signed access event")
    event = decode_event(raw)
    body = event.body
    if not isinstance(body, Access):
        raise bad_request(f"POST /v1/access takes a signed access event, not {event.kind}; other events go to /v1/events")
    if body.node != services.node_id:
        raise ApiError(409, "wrong_node", f"the access names node {body.node}, but this node is {services.node_id}")
    info = sealed_content_info(services, body.asset)
    if info is None or info.asset != body.asset:
        raise ApiError(404, "not_found", f"content {body.asset} is not on this node")
    if body.bytes != info.asset_size:
        raise bad_request(f"access.bytes must be the content's size, {info.asset_size}, not {body.bytes}")
    expected = services.mempool.next_nonce(event.author)
    if event.nonce != expected:
        raise ApiError(
            409, "nonce", f"an access must carry the author's next nonce, {expected}, not {event.nonce}: it is served at once, never queued"
        )
    file = await open_sealed(services, info)
    try:
        try:
            submitted = services.intake.submit(raw)
        except ProtocolError as exc:
            if exc.code == "rejected":
                raise ApiError(403, "access_denied", exc.message) from None
            raise
        if submitted.admission.known:
            raise ApiError(409, "already_used", f"access {event.id.hex()} was already admitted; sign a new access to download again")
        if submitted.admission.status != PENDING:
            raise ApiError(409, "nonce", f"access {event.id.hex()} was not applied at once ({submitted.admission.status})")
        await services.intake.wait_journaled()
    except BaseException:
        file.close()
        raise
    log.info("access %s: serving sealed %s (%d bytes) to %s for %s", event.id.hex()[:12], body.asset, info.size, event.author, body.purpose)
    return await stream_sealed(request, file, info, {"X-Audiera-Access": event.id.hex()})
