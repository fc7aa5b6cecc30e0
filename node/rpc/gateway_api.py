"""An IPFS trustless gateway (specs.ipfs.tech/http-gateways/trustless-gateway) over the content store.

``GET /ipfs/{cid}`` answers a raw block (``application/vnd.ipld.raw``) or a CARv1 stream
(``application/vnd.ipld.car``: ``dag-scope``, ``entity-bytes``, ``order=dfs``, ``dups``),
so any IPFS client can fetch what this node holds and check every block against its CID
instead of trusting the node. It is not recursive: a block this node lacks is a 404,
never a fetch from peers. ``bafkqaaa``, the empty identity CID, answers as the
specification's probe.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass

from aiohttp import web

from protocol.cid import cid_from_str
from protocol.errors import DecodeError, InvalidCID

from . import car
from .context import services_of
from .errors import ApiError, bad_request

RAW_TYPE = "application/vnd.ipld.raw"
CAR_TYPE = "application/vnd.ipld.car"
FORMATS = {"raw": RAW_TYPE, "car": CAR_TYPE}
PROBE_CID = "bafkqaaa"
PROBE_BINARY = bytes((0x01, 0x55, 0x00, 0x00))
"""bafkqaaa: CIDv1, codec raw, identity multihash of no bytes."""
IMMUTABLE = "public, max-age=29030400, immutable"


@dataclass(frozen=True)
class CarRequest:
    scope: str
    byte_range: car.ByteRange | None
    dups: bool

    def etag(self, cid: str) -> str:
        variant = f"{self.scope}|{self.byte_range}|{self.dups}".encode()
        return f'"{cid}.car.{hashlib.sha256(variant).hexdigest()[:16]}"'

    def content_type(self) -> str:
        return f"{CAR_TYPE}; version=1; order=dfs; dups={'y' if self.dups else 'n'}"


def _media_ranges(accept: str) -> list[tuple[str, dict[str, str]]]:
    """The media ranges of an Accept header, most preferred first (ties keep their order)."""
    ranges = []
    for position, item in enumerate(accept.split(",")):
        kind, *raw_params = (part.strip() for part in item.split(";"))
        params = {}
        for param in raw_params:
            name, _, value = param.partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
        try:
            quality = float(params.pop("q", "1"))
        except ValueError:
            quality = 0.0
        if kind and quality > 0:
            ranges.append((-quality, position, kind.lower(), params))
    return [(kind, params) for _, _, kind, params in sorted(ranges)]


def _negotiate(request: web.Request) -> tuple[str, dict[str, str]]:
    """The response type (raw or CAR) and the CAR parameters the client asked for."""
    wanted = request.query.get("format")
    if wanted is not None:
        if wanted not in FORMATS:
            raise bad_request(f"format must be raw or car on a trustless gateway, not {wanted!r}")
        accepted = dict(_media_ranges(request.headers.get("Accept", "")))
        return FORMATS[wanted], accepted.get(FORMATS[wanted], {})
    accept = request.headers.get("Accept", "")
    if not accept:
        raise bad_request(f"this is a trustless gateway: ask for Accept: {RAW_TYPE} or {CAR_TYPE} (or ?format=raw|car)")
    for kind, params in _media_ranges(accept):
        if kind in (RAW_TYPE, CAR_TYPE):
            return kind, params
    raise ApiError(406, "not_acceptable", f"this gateway answers only {RAW_TYPE} or {CAR_TYPE}, not {accept!r}")


def _car_request(request: web.Request, params: dict[str, str]) -> CarRequest:
    version = request.query.get("car-version", params.get("version", "1"))
    if version != "1":
        raise ApiError(406, "not_acceptable", f"only CAR version 1 is served, not {version!r}")
    order = request.query.get("car-order", params.get("order", "dfs"))
    if order not in ("dfs", "unk", ""):
        raise ApiError(406, "not_acceptable", f"blocks come in order dfs; order={order!r} is not served")
    dups_text = request.query.get("car-dups", params.get("dups", "n"))
    if dups_text not in ("y", "n"):
        raise bad_request(f"dups must be y or n, not {dups_text!r}")
    scope = request.query.get("dag-scope", car.SCOPE_ALL)
    if scope not in car.SCOPES:
        raise bad_request(f"dag-scope must be one of {', '.join(car.SCOPES)}, not {scope!r}")
    byte_range = None
    if "entity-bytes" in request.query:
        try:
            byte_range = car.ByteRange.parse(request.query["entity-bytes"])
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        scope = car.SCOPE_ENTITY
    return CarRequest(scope=scope, byte_range=byte_range, dups=dups_text == "y")


def _common_headers(response: web.StreamResponse, cid: str, filename: str, etag: str) -> None:
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = IMMUTABLE
    response.headers["ETag"] = etag
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Ipfs-Path"] = f"/ipfs/{cid}"
    response.headers["Vary"] = "Accept"


async def get_ipfs(request: web.Request) -> web.StreamResponse:
    cid_text = request.match_info["cid"]
    response_type, params = _negotiate(request)
    car_request = _car_request(request, params) if response_type == CAR_TYPE else None
    if cid_text == PROBE_CID:
        binary, block = PROBE_BINARY, b""
    else:
        try:
            binary = cid_from_str(cid_text)
        except InvalidCID as exc:
            raise bad_request(f"{cid_text!r} is not a CID this gateway serves: {exc.message}") from None
        block = await asyncio.get_running_loop().run_in_executor(None, services_of(request).content.get_block, binary)
        if block is None:
            if "only-if-cached" in request.headers.get("Cache-Control", ""):
                raise ApiError(412, "not_cached", f"block {cid_text} is not held by this node")
            raise ApiError(404, "not_found", f"block {cid_text} is not held by this node (the gateway does not fetch from peers)")
    if car_request is None:
        return _raw_response(request, cid_text, block)
    return await _car_response(request, cid_text, binary, block, car_request)


def _raw_response(request: web.Request, cid: str, block: bytes) -> web.Response:
    etag = f'"{cid}.raw"'
    response = web.Response(status=304 if request.headers.get("If-None-Match") == etag else 200)
    _common_headers(response, cid, f"{cid}.bin", etag)
    response.content_type = RAW_TYPE
    if response.status == 200 and request.method != "HEAD":
        response.body = block
    else:
        response.headers["Content-Length"] = str(len(block))
    return response


async def _car_response(request: web.Request, cid: str, root: bytes, root_block: bytes, wanted: CarRequest) -> web.StreamResponse:
    span = None
    if wanted.byte_range is not None and cid != PROBE_CID:
        size = _entity_size(root, root_block)
        span = wanted.byte_range.resolve(size)
        if span[0] >= size:
            raise ApiError(400, "bad_request", f"entity-bytes starts at byte {span[0]} but {cid} has {size} bytes")
    etag = wanted.etag(cid)
    response = web.StreamResponse(status=304 if request.headers.get("If-None-Match") == etag else 200)
    _common_headers(response, cid, f"{cid}.car", etag)
    response.headers["Content-Type"] = wanted.content_type()
    await response.prepare(request)
    if response.status == 304 or request.method == "HEAD":
        return response
    await response.write(car.car_header(root))
    if cid == PROBE_CID:
        return response  # identity blocks are never sent: their bytes are in the CID
    get_block = services_of(request).content.get_block
    blocks = car.select_blocks(get_block, root, root_block, scope=wanted.scope, span=span, dups=wanted.dups)
    loop = asyncio.get_running_loop()
    while True:
        try:
            section = await loop.run_in_executor(None, _next_section, blocks)
        except DecodeError:
            break  # a stored node that does not decode: the client sees an incomplete CAR
        if section is None:
            break
        await response.write(section)
    return response


def _entity_size(root: bytes, root_block: bytes) -> int:
    try:
        return car.file_size(root, root_block)
    except DecodeError as exc:
        raise ApiError(500, "corrupt_block", f"the stored root block does not decode: {exc.message}") from None


def _next_section(blocks) -> bytes | None:
    """The next CAR section, read in a worker thread (the store reads from disk)."""
    found = next(blocks, None)
    return None if found is None else car.car_section(*found)


async def get_ipfs_path(request: web.Request) -> web.Response:
    """A path below a CID: the content here is single files (UnixFS files have no named children)."""
    raise ApiError(404, "no_path", f"{request.match_info['cid']} is a file on this node: it has no path {request.match_info['path']!r} below it")
