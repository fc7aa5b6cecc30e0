"""The OpenAPI 3.1 document served at /v1/openapi.json, built from the route table."""

from __future__ import annotations

import re
from typing import Any

from protocol.events import MAX_USE_COUNT
from protocol.terms import PURPOSES

from .routes import ROUTES

_PARAM_DOCS = {
    "id": "Event id: 64 hex characters (sha2-256 of the signed event's canonical encoding)",
    "ref": "A block height, a 64-hex block hash, 'head' or 'finalized'",
    "cid": "An asset id: the CIDv1 (base32) of its content",
    "did": "An account: did:key:z6Mk…",
}
_QUERY_DOCS = {
    "/v1/assets/{cid}": ["limit", "after"],
    "/v1/accounts/{did}": ["limit", "after"],
    "/v1/headers": ["from", "limit"],
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
    "events": {"name": "events", "in": "query", "description": "Include full events", "schema": {"type": "boolean"}},
    # The data market's parameters.
    "q": {"name": "q", "in": "query", "description": "Words that title, tags, genre or description must all contain", "schema": {"type": "string"}},
    "type": {"name": "type", "in": "query", "schema": {"type": "string", "enum": ["track", "stem", "sample", "sound_effect", "dataset"]}},
    "genre": {"name": "genre", "in": "query", "schema": {"type": "string"}},
    "tag": {"name": "tag", "in": "query", "schema": {"type": "string"}},
    "creator": {"name": "creator", "in": "query", "description": "A rights holder (did:key)", "schema": {"type": "string"}},
    "isrc": {"name": "isrc", "in": "query", "schema": {"type": "string"}},
    "iswc": {"name": "iswc", "in": "query", "schema": {"type": "string"}},
    "purpose": {"name": "purpose", "in": "query", "description": "Only assets whose terms in force allow this purpose", "schema": {"type": "string"}},
    "max_price": {"name": "max_price", "in": "query", "description": "With purpose: at most this price (0: free only)", "schema": {"type": "integer", "minimum": 0}},
    "min_duration_ms": {"name": "min_duration_ms", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    "max_duration_ms": {"name": "max_duration_ms", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    "sort": {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["newest", "title"]}},
    "cursor": {"name": "after", "in": "query", "description": "Hex cursor from a previous page's next", "schema": {"type": "string"}},
    "asset_cursor": {"name": "after", "in": "query", "description": "MODEL:CID cursor from a previous page's assets.next", "schema": {"type": "string"}},
    "asset": {"name": "asset", "in": "query", "description": "An asset id (CID)", "schema": {"type": "string"}},
    "period_from": {"name": "from", "in": "query", "description": "First UTC day: YYYY-MM-DD or ms (default: the beginning)", "schema": {"type": "string"}},
    "period_to": {"name": "to", "in": "query", "description": "Last UTC day, inclusive: YYYY-MM-DD or ms (default: today)", "schema": {"type": "string"}},
    "use_purpose": {"name": "purpose", "in": "query", "required": True, "description": "The purpose of the use", "schema": {"type": "string", "enum": list(PURPOSES)}},
    "count": {"name": "count", "in": "query", "required": True, "description": "Units of use (calls)", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_USE_COUNT}},
}  # fmt: skip
_BODIES = {
    ("POST", "/v1/events"): {
        "required": True,
        "content": {"application/msgpack": {"schema": {"type": "string", "format": "binary"}}},
        "description": "The signed event's canonical MessagePack bytes",
    },
    ("POST", "/v1/content"): {
        "required": True,
        "content": {
            "audio/*": {"schema": {"type": "string", "format": "binary"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "The file's bytes, streamed",
    },
}
_BODIES[("POST", "/v1/access")] = {
    "required": True,
    "content": {"application/msgpack": {"schema": {"type": "string", "format": "binary"}}},
    "description": "A signed access event naming this node; the answer is the content (application/octet-stream) or 403",
}
_BODIES[("POST", "/v1/preflight")] = {
    "required": True,
    "content": {"application/json": {"schema": {"type": "object", "required": ["assets", "purpose"]}}},
    "description": '{"assets": [CID, …], "purpose": PURPOSE, "account": DID (optional)}',
}
_BODIES[("POST", "/v1/fingerprints/match")] = {
    "required": True,
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    "description": "A fingerprint: whole 32-bit big-endian frames, as an upload's answer gives it (hex-decoded)",
}
_SUCCESS = {("POST", "/v1/events"): "202", ("POST", "/v1/content"): "201"}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def openapi_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path, handler, summary in ROUTES:
        parameters = [
            {"name": name, "in": "path", "required": True, "description": _PARAM_DOCS.get(name, name), "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", path)
        ]
        parameters += [_QUERY_PARAMS[name] for name in _QUERY_DOCS.get(path, [])]
        error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        operation: dict[str, Any] = {
            "operationId": handler.__name__,
            "summary": summary,
            "parameters": parameters,
            "responses": {
                _SUCCESS.get((method, path), "200"): {"description": "OK", "content": {"application/json": {}}},
                "4XX": {"description": "The request was refused; the message says why", **error},
            },
        }
        if (method, path) in _BODIES:
            operation["requestBody"] = _BODIES[(method, path)]
        paths.setdefault(path, {})[method.lower()] = operation
    paths["/v1/openapi.json"] = {"get": {"operationId": "openapi", "summary": "This document", "responses": {"200": {"description": "OK"}}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Audiera node RPC",
            "version": "1",
            "description": "Provenance, licensing and use of music data. State changes only come in as signed events.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": {"Error": ERROR_SCHEMA}},
    }
