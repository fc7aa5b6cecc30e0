"""Key releases for an access: ``GET /v1/access/{id}/releases``.

Content is stored and moved only sealed, so a download needs no gatekeeper: anyone may
fetch the sealed blocks. What a consumer needs is the key, and the authorities release
their shares of it only for an ``access`` event that is final (node/chain/key_release.py).
This answers the releases this node made or relayed for one access, each as its signed
bytes (hex) beside its fields; the consumer checks every signature and every share
against the asset's custody itself, so a node that lies here can only withhold.
"""

from __future__ import annotations

from aiohttp import web

from protocol.asset_custody import get_custody
from protocol.events import Access, decode_event
from protocol.releases import encode_release
from protocol.state import get_asset

from .context import services_of
from .errors import ApiError
from .params import hex_id


async def get_releases(request: web.Request) -> web.Response:
    services = services_of(request)
    access_id = hex_id(request.match_info["id"], "access id")
    ledger = services.ledger
    stored = ledger.chain.get_event(access_id)
    if stored is None:
        raise ApiError(404, "not_found", f"access {access_id.hex()} is not in a block on this node's chain (yet)")
    event = decode_event(stored.raw, verify=False)
    if not isinstance(event.body, Access):
        raise ApiError(400, "not_an_access", f"event {access_id.hex()} is a {event.kind}, not an access")
    asset = get_asset(ledger.chain, event.body.asset)
    custody = None if asset is None else get_custody(asset)
    releases = services.releases.for_access(access_id)
    return web.json_response(
        {
            "access": access_id.hex(),
            "asset": event.body.asset,
            "consumer": event.author,
            "height": stored.height,
            "final": ledger.is_final_block(stored.block_hash, stored.height),
            "threshold": None if custody is None else custody.threshold,
            "releases": [
                {"index": r.index, "releaser": r.releaser, "release": encode_release(r).hex()} for r in releases
            ],
        }
    )
