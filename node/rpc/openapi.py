"""The OpenAPI 3.1 document served at /v1/openapi.json, generated from the route table and the body models.

Every route has an entry in ``OPERATIONS``: its success status, the model of its answer
(api_models.py) or the schema of a body that is not JSON, its content types, the
refusals it can give and its request body; the schemas of the document are the models'
own, and its enums are the code's constants. The routes of other protocols (the IPFS
gateway, the websocket feed, the Prometheus exposition, the explorer) are there too,
with their real content types: a client learns from one document what every path answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from protocol.events import ASSET_TYPES, MAX_USE_COUNT
from protocol.terms import PURPOSES

from . import api_models as m
from .car import SCOPES
from .catalog_api import SORTS
from .feed_hub import TOPICS
from .gateway_api import CAR_TYPE, FORMATS, PROBE_CID, RAW_TYPE
from .metrics import EXPOSITION_TYPE
from .routes import ROUTES

_PARAM_DOCS = {
    "id": "Event id: 64 hex characters (sha2-256 of the signed event's canonical encoding)",
    "ref": "A block height, a 64-hex block hash, 'head' or 'finalized'",
    "cid": "An asset id: the CIDv1 (base32) of its content",
    "did": "An account: did:key:z6Mk…",
    "name": "A file of the explorer (its scripts and style)",
    "path": "A path below the CID (content here is single files: there is none)",
}
_PATH_SCHEMAS = {"id": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}}
_GATEWAY_CID = "Any block's CID, as this node holds it (bafkqaaa: the probe)"
_PATH_PARAM_DOCS = {("/ipfs/{cid}", "cid"): _GATEWAY_CID, ("/ipfs/{cid}/{path}", "cid"): _GATEWAY_CID}
_PATH_EXAMPLES = {("/ipfs/{cid}", "cid"): PROBE_CID}
"""Path values that reach a success: the gateway's probe CID answers on every node."""
_QUERY_DOCS = {
    "/v1/assets/{cid}": ["limit", "after"],
    "/v1/accounts/{did}": ["limit", "after"],
    "/v1/headers": ["from", "limit"],
    "/v1/pins": ["pin_after", "limit"],
    "/v1/blocks/{ref}": ["events"],
    "/v1/catalog": [
        "q", "type", "genre", "tag", "creator", "isrc", "iswc", "purpose", "max_price",
        "min_duration_ms", "max_duration_ms", "sort", "limit", "cursor",
    ],
    "/v1/accounts/{did}/licenses": ["asset", "limit", "cursor"],
    "/v1/assets/{cid}/licenses": ["limit", "cursor"],
    "/v1/lineage/{ref}": ["limit", "asset_cursor"],
    "/v1/models/{id}/proof": ["asset"],
    "/v1/royalties/{did}": ["period_from", "period_to"],
    "/v1/assets/{cid}/usage": ["period_from", "period_to"],
    "/v1/usage/{id}/quote": ["use_purpose", "count"],
    "/v1/usage/{id}": ["period_from", "period_to"],
    "/v1/royalties/{did}/lineage": ["period_from", "period_to"],
    "/v1/assets/{cid}/paid-through": ["period_from", "period_to"],
    "/ipfs/{cid}": ["format", "dag-scope", "entity-bytes", "car-version", "car-order", "car-dups"],
    "/v1/feed": ["topics", "feed_kind", "feed_account", "feed_asset"],
}  # fmt: skip
_QUERY_PARAMS = {
    "limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
    "after": {
        "name": "after",
        "in": "query",
        "description": "Cursor HEIGHT:INDEX from a previous page's next",
        "schema": {"type": "string", "pattern": "^[0-9]+:[0-9]+$"},
    },
    "from": {"name": "from", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    "pin_after": {"name": "after", "in": "query", "description": "A sealed CID: the page after it (a previous page's next)", "schema": {"type": "string"}},
    "events": {"name": "events", "in": "query", "description": "Include full events", "schema": {"type": "boolean"}},
    # The data market's parameters.
    "q": {"name": "q", "in": "query", "description": "Words that title, tags, genre or description must all contain", "schema": {"type": "string"}},
    "type": {"name": "type", "in": "query", "schema": {"type": "string", "enum": list(ASSET_TYPES)}},
    "genre": {"name": "genre", "in": "query", "schema": {"type": "string"}},
    "tag": {"name": "tag", "in": "query", "schema": {"type": "string"}},
    "creator": {"name": "creator", "in": "query", "description": "A rights holder (did:key)", "schema": {"type": "string"}},
    "isrc": {"name": "isrc", "in": "query", "schema": {"type": "string"}},
    "iswc": {"name": "iswc", "in": "query", "schema": {"type": "string"}},
    "purpose": {"name": "purpose", "in": "query", "description": "Only assets whose terms in force allow this purpose", "schema": {"type": "string", "enum": list(PURPOSES)}},
    "max_price": {"name": "max_price", "in": "query", "description": "With purpose: at most this price (0: free only)", "schema": {"type": "integer", "minimum": 0}},
    "min_duration_ms": {"name": "min_duration_ms", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    "max_duration_ms": {"name": "max_duration_ms", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    "sort": {"name": "sort", "in": "query", "schema": {"type": "string", "enum": list(SORTS)}},
    "cursor": {"name": "after", "in": "query", "description": "Hex cursor from a previous page's next", "schema": {"type": "string"}},
    "asset_cursor": {"name": "after", "in": "query", "description": "MODEL:CID cursor from a previous page's assets.next", "schema": {"type": "string"}},
    "asset": {"name": "asset", "in": "query", "description": "An asset id (CID)", "schema": {"type": "string"}},
    "period_from": {"name": "from", "in": "query", "description": "First UTC day: YYYY-MM-DD or ms (default: the beginning)", "schema": {"type": "string"}},
    "period_to": {"name": "to", "in": "query", "description": "Last UTC day, inclusive: YYYY-MM-DD or ms (default: today)", "schema": {"type": "string"}},
    "use_purpose": {"name": "purpose", "in": "query", "required": True, "description": "The purpose of the use", "schema": {"type": "string", "enum": list(PURPOSES)}},
    "count": {"name": "count", "in": "query", "required": True, "description": "Units of use (calls)", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_USE_COUNT}},
    # The IPFS trustless gateway's (specs.ipfs.tech/http-gateways/trustless-gateway): Accept works as well as format.
    "format": {"name": "format", "in": "query", "description": f"raw ({RAW_TYPE}) or car ({CAR_TYPE}); without it, the Accept header decides", "schema": {"type": "string", "enum": list(FORMATS)}},
    "dag-scope": {"name": "dag-scope", "in": "query", "description": "CAR: the block, the entity (a file's blocks) or all", "schema": {"type": "string", "enum": list(SCOPES)}},
    "entity-bytes": {"name": "entity-bytes", "in": "query", "description": "CAR: only the blocks of a byte range FROM:TO of the file (TO may be * or negative)", "schema": {"type": "string", "pattern": "^[0-9]+:(\\*|-?[0-9]+)$"}},
    "car-version": {"name": "car-version", "in": "query", "schema": {"type": "string", "enum": ["1"]}},
    "car-order": {"name": "car-order", "in": "query", "schema": {"type": "string", "enum": ["dfs", "unk"]}},
    "car-dups": {"name": "car-dups", "in": "query", "description": "CAR: y to repeat a block each time it occurs", "schema": {"type": "string", "enum": ["y", "n"]}},
    # The live feed's filters: each comma-separated or repeated; an event must match every field given.
    "topics": {"name": "topics", "in": "query", "description": f"Message types, comma-separated (default all): {', '.join(TOPICS)}", "schema": {"type": "string"}},
    "feed_kind": {"name": "kind", "in": "query", "description": "Only events of these kinds", "schema": {"type": "string"}},
    "feed_account": {"name": "account", "in": "query", "description": "Only events that name one of these accounts (did:key)", "schema": {"type": "string"}},
    "feed_asset": {"name": "asset", "in": "query", "description": "Only events that name one of these assets (CID)", "schema": {"type": "string"}},
}  # fmt: skip
_OCTETS = {"type": "string", "format": "binary"}
_TEXT = {"type": "string"}
_JSON = ("application/json",)


def _msgpack_body(description: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/msgpack": {"schema": _OCTETS}}, "description": description}


def _json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}, "description": description}


@dataclass(frozen=True)
class Operation:
    """What one route answers: its success status and body, the refusals it can give, its request body."""

    response: Any
    """A model from api_models; a JSON schema (a dict) for a body that is not JSON; None for no body."""
    status: int = 200
    errors: tuple[int, ...] = ()
    body: dict[str, Any] | None = None
    content: tuple[str, ...] = _JSON
    """The success's content types (any one of them)."""
    description: str = "OK"
    """What the success is."""
    bodiless: tuple[int, ...] = ()
    """Other answers that carry no body (304)."""


_GATEWAY_ERRORS = (400, 404, 406, 412, 500)
_GATEWAY_TYPES = (RAW_TYPE, CAR_TYPE)
_GATEWAY_ANSWER = "The block (raw) or a CAR of the blocks asked for, each checkable against its CID"

_LOOKUP = (400, 404)
_SIGNED = (400, 409, 413, 415)
_ADMIN = (400, 403)
OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/v1/status"): Operation(m.Status),
    ("GET", "/v1/genesis"): Operation(m.Genesis),
    ("GET", "/v1/peers"): Operation(m.Peers),
    ("GET", "/v1/sync"): Operation(m.Sync),
    ("POST", "/v1/admin/peering"): Operation(m.Peering, errors=_ADMIN, body=_json_body(m.PeeringRequest, "Cut off (enabled false), reconnect, or keep only some peers")),
    ("POST", "/v1/admin/perf"): Operation(
        [m.PerfMeasured, m.PerfAllowed], errors=(*_ADMIN, 502),
        body=_json_body([m.PerfMeasureRequest, m.PerfAllowRequest], "Measure a stream from a peer, or allow a peer to measure from here"),
    ),
    ("POST", "/v1/events"): Operation(m.EventSubmitted, 202, _SIGNED, _msgpack_body("The signed event's canonical MessagePack bytes")),
    ("POST", "/v1/events/batch"): Operation(m.BatchSubmitted, 200, (400, 413, 415), _msgpack_body("A MessagePack array of signed events' bytes")),
    ("GET", "/v1/events/{id}"): Operation(m.EventStatus, errors=_LOOKUP),
    ("GET", "/v1/blocks/{ref}"): Operation(m.BlockView, errors=_LOOKUP),
    ("GET", "/v1/headers"): Operation(m.Headers, errors=(400,)),
    ("POST", "/v1/blocks"): Operation(m.BlockSubmitted, 202, _SIGNED, _msgpack_body("The signed block's canonical MessagePack bytes")),
    ("POST", "/v1/votes"): Operation(m.VoteSubmitted, 202, (400, 413, 415), _msgpack_body("The signed vote's canonical MessagePack bytes")),
    ("GET", "/v1/evidence"): Operation(m.EvidenceList, errors=(400,)),
    ("GET", "/v1/authorities"): Operation(m.Authorities),
    ("GET", "/v1/assets/{cid}"): Operation(m.AssetWithHistory, errors=_LOOKUP),
    ("GET", "/v1/accounts/{did}"): Operation(m.AccountWithActivity, errors=(400,)),
    ("POST", "/v1/content"): Operation(
        m.Uploaded, 201, (400, 403, 413, 415, 429, 507),
        {"required": True, "content": {"audio/*": {"schema": _OCTETS}, "application/octet-stream": {"schema": _OCTETS}}, "description": "The file's bytes, streamed"},
    ),
    ("GET", "/v1/content/{cid}"): Operation(
        _OCTETS, errors=_LOOKUP, content=("application/octet-stream",), description="The sealed file, streamed: anyone may have it, only a key opens it"
    ),
    ("GET", "/v1/content/{cid}/info"): Operation(m.ContentInfo, errors=_LOOKUP),
    ("GET", "/v1/pins"): Operation(m.Pins, errors=(400,)),
    ("DELETE", "/v1/pins/{cid}"): Operation(m.PinRemoved, errors=(400, 403, 404)),
    ("POST", "/v1/content/{cid}/fetch"): Operation(m.ContentInfo, errors=(400, 502)),
    ("GET", "/v1/catalog"): Operation(m.CatalogPage, errors=(400,)),
    ("POST", "/v1/preflight"): Operation(m.Preflight, errors=(400,), body=_json_body(m.PreflightRequest, "The assets, the purpose and (optionally) the account that would use them")),
    ("GET", "/v1/licenses/{id}"): Operation(m.LicenseView, errors=_LOOKUP),
    ("GET", "/v1/accounts/{did}/licenses"): Operation(m.AccountLicenses, errors=(400,)),
    ("GET", "/v1/assets/{cid}/licenses"): Operation(m.AssetLicenses, errors=(400,)),
    ("GET", "/v1/access/{id}/releases"): Operation(m.AccessReleases, errors=_LOOKUP),
    ("GET", "/v1/lineage/{ref}"): Operation(m.Lineage, errors=_LOOKUP),
    ("GET", "/v1/models/{id}/proof"): Operation(m.ManifestProof, errors=_LOOKUP),
    ("GET", "/v1/royalties/{did}"): Operation(m.Royalties, errors=(400,)),
    ("GET", "/v1/assets/{cid}/usage"): Operation(m.AssetUsage, errors=_LOOKUP),
    ("GET", "/v1/models/{id}/terms"): Operation(m.ModelTerms, errors=_LOOKUP),
    ("GET", "/v1/usage/{id}/quote"): Operation(m.Quote, errors=(400, 404, 409)),
    ("GET", "/v1/usage/{id}"): Operation(m.Usage, errors=_LOOKUP),
    ("GET", "/v1/royalties/{did}/lineage"): Operation(m.LineageIncome, errors=(400,)),
    ("GET", "/v1/assets/{cid}/paid-through"): Operation(m.PaidThrough, errors=_LOOKUP),
    ("POST", "/v1/fingerprints/match"): Operation(
        m.FingerprintMatch, errors=(400, 413, 415),
        body={"required": True, "content": {"application/octet-stream": {"schema": _OCTETS}}, "description": "A fingerprint: whole 32-bit big-endian frames, as an upload's answer gives it (hex-decoded)"},
    ),
    ("GET", "/ipfs/{cid}"): Operation(_OCTETS, errors=_GATEWAY_ERRORS, content=_GATEWAY_TYPES, description=_GATEWAY_ANSWER, bodiless=(304,)),
    ("HEAD", "/ipfs/{cid}"): Operation(None, errors=_GATEWAY_ERRORS, description="The headers of the GET's answer", bodiless=(304,)),
    ("GET", "/ipfs/{cid}/{path}"): Operation(None, status=404, errors=(400, 406)),
    ("GET", "/v1/feed"): Operation(
        None, status=101, errors=(400, 503),
        description="The websocket: one JSON text message per new head, reorg, final block or block's matching events; "
        "the node closes it with code 1008 and the reason if the client falls behind",
    ),
    ("GET", "/metrics"): Operation(_TEXT, content=(EXPOSITION_TYPE.split(";")[0],), description="The Prometheus text exposition, version 0.0.4"),
    ("GET", "/"): Operation(_TEXT, content=("text/html",), description="The explorer's page"),
    ("GET", "/explorer/{name}"): Operation(_TEXT, errors=(404,), content=("text/javascript", "text/css", "text/html")),
}  # fmt: skip
"""Every route of the document (routes.ROUTES), keyed by method and path."""

_ERROR_MEANINGS = {
    400: "The request is malformed or invalid; the message says what to send",
    403: "Refused: not allowed for this client, or the rules deny it",
    404: "Not found",
    409: "Conflicts with the chain's state (nonce, already known, denied use)",
    413: "The body is larger than this node takes",
    406: "None of the types the client accepts is served here",
    412: "Only if cached (Cache-Control: only-if-cached), and this node does not hold it",
    415: "The body is not of the type this operation takes",
    429: "Too many at once: retry later",
    500: "A block stored here does not decode",
    502: "A peer failed to answer",
    503: "This node serves as many subscribers as it takes: retry later",
    507: "This node has no room for more unregistered uploads until some are registered or expire",
}
_BODILESS_MEANINGS = {304: "Not modified: the ETag is the client's If-None-Match"}


class _Schemas:
    """Collects the models' schemas into one set of components, each model once."""

    def __init__(self) -> None:
        self.models: list[Any] = [m.Error]

    def ref(self, model: Any) -> dict[str, Any]:
        if isinstance(model, list):
            return {"oneOf": [self.ref(one) for one in model]}
        self.models.append(model)
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    def components(self) -> dict[str, Any]:
        return m.schemas(self.models)[1]


def _responses(operation: Operation, schemas: _Schemas) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": schemas.ref(m.Error)}}}
    if operation.status >= 400:
        success = {"description": _ERROR_MEANINGS[operation.status], **error}
    elif operation.response is None:
        success = {"description": operation.description}
    else:
        schema = operation.response if isinstance(operation.response, dict) else schemas.ref(operation.response)
        success = {"description": operation.description, "content": {kind: {"schema": schema} for kind in operation.content}}
    responses: dict[str, Any] = {str(operation.status): success}
    for status in operation.bodiless:
        responses[str(status)] = {"description": _BODILESS_MEANINGS[status]}
    for status in operation.errors:
        responses[str(status)] = {"description": _ERROR_MEANINGS[status], **error}
    # Refusals every operation can give besides its own: an unsupported method (405), a body too large for the server.
    responses["4XX"] = {"description": "The request was refused; the message says why", **error}
    return responses


def openapi_document() -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    for method, route_path, handler, summary in ROUTES:
        path = documented_path(route_path)
        operation = OPERATIONS[(method, path)]
        parameters = [_path_parameter(path, name) for name in re.findall(r"{(\w+)}", path)]
        parameters += [_QUERY_PARAMS[name] for name in _QUERY_DOCS.get(path, [])]
        # One handler answers GET and HEAD; operation ids must be unique.
        operation_id = handler.__name__ if handler.__name__ not in operation_ids else f"{handler.__name__}_{method.lower()}"
        operation_ids.add(operation_id)
        document: dict[str, Any] = {
            "operationId": operation_id,
            "summary": summary,
            "parameters": parameters,
            "responses": _responses(operation, schemas),
        }
        if operation.body is not None:
            document["requestBody"] = _request_body(operation.body, schemas)
        paths.setdefault(path, {})[method.lower()] = document
    paths["/v1/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Audiera node RPC",
            "version": "1",
            "description": "Provenance, licensing and use of music data. State changes only come in as signed events.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": schemas.components()},
    }


def _path_parameter(path: str, name: str) -> dict[str, Any]:
    description = _PATH_PARAM_DOCS.get((path, name)) or _PARAM_DOCS.get(name, name)
    parameter = {"name": name, "in": "path", "required": True, "description": description, "schema": _PATH_SCHEMAS.get(name, {"type": "string"})}
    example = _PATH_EXAMPLES.get((path, name))
    if example is not None:
        parameter["example"] = example
    return parameter


def documented_path(route_path: str) -> str:
    """A route's path as OpenAPI writes it: ``{id:REGEX}`` becomes ``{id}``."""
    return re.sub(r"{(\w+):[^}]*}", r"{\1}", route_path)


def _request_body(body: dict[str, Any], schemas: _Schemas) -> dict[str, Any]:
    """A request body whose JSON schema may still be a model: replaced by its reference."""
    content = {}
    for media_type, entry in body["content"].items():
        schema = entry["schema"]
        content[media_type] = {"schema": schema if isinstance(schema, dict) else schemas.ref(schema)}
    return {**body, "content": content}
