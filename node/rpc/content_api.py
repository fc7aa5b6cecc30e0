"""Content upload: streamed to disk, chunked and hashed as it arrives, never held whole in memory."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from storage.content import UploadLimits

from ..fingerprint import fingerprint_file
from ..media import probe_media
from ..p2p.network import FetchError
from . import params
from ..services import Services
from .context import services_of
from .errors import ApiError, not_found
from .request_checks import check_body
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


async def upload_content(request: web.Request) -> web.Response:
    services = services_of(request)
    limit = services.config.rpc.max_upload_bytes
    check_body(
        request, types=ACCEPTED_TYPES, hint=f"upload audio as audio/* or application/octet-stream, not {request.content_type}",
        max_bytes=limit, limit_message=f"upload of {request.content_length} bytes exceeds this node's limit of {limit}",
    )
    ingest = services.content.start_ingest(limit, limits=upload_limits(services), now_ms=services.clock())
    loop = asyncio.get_running_loop()
    writing: asyncio.Future | None = None
    done = False
    try:
        batch = bytearray()
        # While a thread hashes and writes one batch, the loop reads the next.
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
        if ingest.size == 0:
            raise ApiError(400, "empty", "the upload is empty")
        await loop.run_in_executor(None, ingest.close_file)
        media = await loop.run_in_executor(None, probe_media, ingest.temp_path)
        fingerprint = await loop.run_in_executor(None, fingerprint_file, ingest.temp_path) if media else b""
        info = await loop.run_in_executor(None, ingest.finish, media)
        done = True
    finally:
        if not done:
            if writing is not None:
                await asyncio.gather(writing, return_exceptions=True)
            await loop.run_in_executor(None, ingest.abort)
    log.info("stored content %s (%d bytes, media %s)", info.cid, info.size, info.media)
    return web.json_response({**info.to_wire(), **reupload_answer(services, fingerprint)}, status=201)


async def get_content_info(request: web.Request) -> web.Response:
    services = services_of(request)
    cid = params.cid_param(request.match_info["cid"])
    info = services.content.info(cid)
    if info is None:
        raise not_found(f"content {cid}")
    return web.json_response(info.to_wire())


async def fetch_content(request: web.Request) -> web.Response:
    """Fetch content from peers and keep it here (as ``ipfs pin add`` does); returns its facts."""
    services = services_of(request)
    cid = params.cid_param(request.match_info["cid"])
    try:
        info = await services.network.fetch_content(cid)
    except FetchError as exc:
        raise ApiError(502, "fetch_failed", exc.message) from None
    return web.json_response(info.to_wire())
