"""Content upload, facts and fetch: every byte stored or moved is sealed.

An upload is sealed with a fresh content key as it streams in (storage/content.py): the
plain root CID, media facts and fingerprint are read from the plain bytes, the sealed
stream alone reaches the disk, and the key goes back to the uploading client in the
answer, once, and is then forgotten by this node. That is why uploads are taken only
from a client on this machine (loopback): the answer is the only copy of the key.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
from typing import Any, BinaryIO

from aiohttp import web

from protocol.records import get_asset
from protocol.sealing import new_content_key
from storage.content import ContentInfo, Ingest, UploadLimits

from ..fingerprint import fingerprint_file
from ..media import probe_media
from ..p2p.content_exchange import AssetFacts
from ..p2p.network import FetchError
from . import params
from ..services import Services
from .context import services_of
from .errors import ApiError, not_found
from .request_checks import check_body, require_loopback
from .reupload import reupload_answer

log = logging.getLogger("audiera.rpc.content")

ACCEPTED_TYPES = ("audio/*", "application/octet-stream")
_BATCH_BYTES = 4 * 1024 * 1024
"""Bytes handed to the hashing/writing thread at a time: large enough that the hand-off costs nothing."""


def upload_limits(services: Services) -> UploadLimits:
    config = services.config
    return UploadLimits(
        max_concurrent=config.rpc.max_concurrent_uploads,
        max_pending_bytes=config.content.max_pending_bytes,
        max_pending_files=config.content.max_pending_files,
    )


def _from_this_machine(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def _read_plain_facts(ingest: Ingest) -> tuple[dict[str, Any] | None, bytes]:
    """Media facts and fingerprint of an upload, read through its sealed file."""
    with ingest.open_plain() as plain:
        media = probe_media(plain)
        plain.seek(0)
        return media, fingerprint_file(plain) if media else b""


async def upload_content(request: web.Request) -> web.Response:
    if not _from_this_machine(request):
        raise ApiError(
            403, "not_local", "uploads are taken only from this machine: the answer carries the content key, which must not cross a network"
        )
    services = services_of(request)
    limit = services.config.rpc.max_upload_bytes
    check_body(
        request, types=ACCEPTED_TYPES, hint=f"upload audio as audio/* or application/octet-stream, not {request.content_type}",
        max_bytes=limit, limit_message=f"upload of {request.content_length} bytes exceeds this node's limit of {limit}",
    )
    key = new_content_key()
    ingest = services.content.start_ingest(limit, limits=upload_limits(services), now_ms=services.clock(), key=key)
    loop = asyncio.get_running_loop()
    writing: asyncio.Future | None = None
    done = False
    try:
        batch = bytearray()
        # While a thread seals, hashes and writes one batch, the loop reads the next.
        async for piece in request.content.iter_any():
            batch += piece
            if len(batch) >= _BATCH_BYTES:
                if writing is not None:
                    await writing
                writing = loop.run_in_executor(None, ingest.write, bytes(batch))
                batch = bytearray()
        if writing is not None:
            await writing
            writing = None
        if batch:
            await loop.run_in_executor(None, ingest.write, bytes(batch))
        if ingest.plain_size == 0:
            raise ApiError(400, "empty", "the upload is empty")
        await loop.run_in_executor(None, ingest.close_file)
        media, fingerprint = await loop.run_in_executor(None, _read_plain_facts, ingest)
        info = await loop.run_in_executor(None, ingest.finish, media)
        done = True
    finally:
        if not done:
            if writing is not None:
                await asyncio.gather(writing, return_exceptions=True)
            await loop.run_in_executor(None, ingest.abort)
    log.info("stored content %s sealed as %s (%d bytes, media %s)", info.asset, info.cid, info.size, info.media)
    answer = {**info.to_wire(), "content_key": key.hex(), **reupload_answer(services, fingerprint)}
    return web.json_response(answer, status=201)


def registered_facts(services: Services, cid: str) -> AssetFacts | None:
    """What the chain records of asset ``cid``'s content, if it is a registered asset."""
    asset = get_asset(services.ledger.chain, cid)
    if asset is None:
        return None
    registration = asset.registration
    return AssetFacts(
        asset=cid, sealed_cid=registration["sealed_cid"], size=registration["size"], media=registration["media"]
    )


def sealed_content_info(services: Services, cid: str) -> ContentInfo | None:
    """The sealed file held here for ``cid``, an asset id or a sealed CID, with its asset's facts."""
    facts = registered_facts(services, cid)
    info = services.content.info(cid if facts is None else facts.sealed_cid)
    if info is None:
        return None
    if info.asset is None and facts is not None and facts.sealed_cid == info.cid:
        info = dataclasses.replace(info, asset=facts.asset, asset_size=facts.size, media=facts.media)
    return info


async def get_content_info(request: web.Request) -> web.Response:
    services = services_of(request)
    cid = params.cid_param(request.match_info["cid"])
    info = sealed_content_info(services, cid)
    if info is None:
        raise not_found(f"content {cid}")
    return web.json_response(info.to_wire())


async def list_pins(request: web.Request) -> web.Response:
    """The sealed files this node holds, by sealed CID (as ``ipfs pin ls``); ``after`` a sealed CID."""
    services = services_of(request)
    after = request.query.get("after", "")
    if after:
        after = params.cid_param(after)
    limit = params.limit_param(request)
    found = services.content.list(after=after, limit=limit + 1)
    page = [info.to_wire() for info in found[:limit]]
    return web.json_response({"content": page, "next": found[limit - 1].cid if len(found) > limit else None})


async def remove_pin(request: web.Request) -> web.Response:
    """Delete this node's copy of a sealed file (as ``ipfs pin rm`` plus a GC): the operator's, so loopback only."""
    require_loopback(request)
    services = services_of(request)
    cid = params.cid_param(request.match_info["cid"])
    info = sealed_content_info(services, cid)
    if info is None:
        raise not_found(f"content {cid}")
    removed = await asyncio.get_running_loop().run_in_executor(None, services.content.remove, info.cid)
    if removed is None:
        raise not_found(f"content {cid}")
    return web.json_response({**info.to_wire(), "removed": True})


PIECE = 1024 * 1024


async def get_sealed_content(request: web.Request) -> web.StreamResponse:
    """The sealed stream of an asset (by its id) or of a sealed CID: public, as it opens only with the key."""
    services = services_of(request)
    cid = params.cid_param(request.match_info["cid"])
    info = sealed_content_info(services, cid)
    if info is None:
        raise not_found(f"content {cid}")
    file = await open_sealed(services, info)
    return await stream_sealed(request, file, info)


async def open_sealed(services: Services, info: ContentInfo) -> BinaryIO:
    """The sealed file ``info`` names, open for reading."""
    try:
        return await asyncio.get_running_loop().run_in_executor(None, open, services.content.path_of(info.cid), "rb")
    except OSError as exc:
        raise ApiError(500, "storage", f"content {info.cid} cannot be read: {exc.strerror or exc}") from None


async def stream_sealed(
    request: web.Request, file: BinaryIO, info: ContentInfo, headers: dict[str, str] | None = None
) -> web.StreamResponse:
    """Stream the open sealed file of ``info``, with its CIDs in the headers, and close it."""
    loop = asyncio.get_running_loop()
    try:
        response = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Length": str(info.size),
                "Content-Disposition": f'attachment; filename="{info.cid}.sealed"',
                "X-Audiera-Sealed-Cid": info.cid,
                **({"X-Audiera-Cid": info.asset} if info.asset else {}),
                **(headers or {}),
            },
        )
        await response.prepare(request)
        while piece := await loop.run_in_executor(None, file.read, PIECE):
            await response.write(piece)
        await response.write_eof()
        return response
    finally:
        await loop.run_in_executor(None, file.close)


async def fetch_content(request: web.Request) -> web.Response:
    """Fetch sealed content from peers and keep it here (as ``ipfs pin add`` does); returns its facts.

    ``cid`` is a registered asset's id (its sealed content is fetched) or a sealed CID.
    """
    services = services_of(request)
    cid = params.cid_param(request.match_info["cid"])
    facts = registered_facts(services, cid)
    try:
        if facts is not None:
            info = await services.network.fetch_content(facts.sealed_cid, facts)
        else:
            info = await services.network.fetch_content(cid)
    except FetchError as exc:
        raise ApiError(502, "fetch_failed", exc.message) from None
    return web.json_response((sealed_content_info(services, info.cid) or info).to_wire())
