"""Real answers of a node holding a small data market, checked against the OpenAPI document's schemas.

Schemathesis (test_schemathesis.py) fuzzes an empty node, where most lookups can only
answer 404; here every operation that can succeed does, and its body, status and content
type must be the ones the document (generated from node/rpc/api_models.py) gives.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

import jsonschema_rs
import pytest

from node.p2p.messages import encode_event_batch
from node.rpc.openapi import openapi_document
from protocol.events import ParticipantRegister

from .explorer_world import allocations, build_world
from .framework import NodeProcess
from .helpers import Client, make_wav

pytestmark = pytest.mark.slow

DOCUMENT = openapi_document()


def _operation(method: str, path: str) -> dict[str, Any]:
    for template, operations in DOCUMENT["paths"].items():
        pattern = "^" + re.sub(r"{\w+}", "[^/]+", template) + "$"
        if method.lower() in operations and re.match(pattern, path) and not (template.endswith("}") and path.endswith("/batch")):
            return operations[method.lower()]
    raise AssertionError(f"{method} {path} is not in the document")


def _call(node: NodeProcess, method: str, path: str, body: bytes | None = None, content_type: str = "") -> tuple[int, str, bytes]:
    headers = {"Content-Type": content_type} if content_type else {}
    request = urllib.request.Request(node.url + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get_content_type(), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get_content_type(), exc.read()


def check(node: NodeProcess, method: str, path: str, body: bytes | None = None, content_type: str = "", *, status: int) -> Any:
    """Call the node; its status must be ``status`` and documented, its body the documented schema. The parsed body."""
    answered, answer_type, raw = _call(node, method, path, body, content_type)
    assert answered == status, (method, path, answered, raw[:300])
    responses = _operation(method, path.split("?")[0])["responses"]
    documented = responses.get(str(answered)) or responses[f"{str(answered)[0]}XX"]
    assert answer_type in documented["content"], (method, path, answer_type, list(documented["content"]))
    if answer_type != "application/json":
        return raw
    value = json.loads(raw)
    schema = documented["content"][answer_type]["schema"]
    jsonschema_rs.Draft202012Validator({"components": DOCUMENT["components"], **schema}).validate(value)
    return value


def test_every_answer_of_a_market_node_is_the_documented_one(start_local_node) -> None:
    node = start_local_node(allocations=allocations())
    world = build_world(node)
    ada, mia = world.ada.did, world.mia.did
    for path in [
        "/v1/status", "/v1/genesis", "/v1/peers", "/v1/sync", "/v1/headers?from=1&limit=5", "/v1/evidence", "/v1/authorities",
        f"/v1/events/{world.license}", "/v1/blocks/head", "/v1/blocks/1?events=true", "/v1/blocks/finalized?events=false",
        f"/v1/assets/{world.asset}?limit=2", f"/v1/accounts/{ada}", f"/v1/content/{world.asset}/info",
        "/v1/catalog", "/v1/catalog?purpose=ai_training&sort=title", f"/v1/licenses/{world.license}",
        f"/v1/accounts/{mia}/licenses", f"/v1/assets/{world.asset}/licenses",
        f"/v1/lineage/{world.model}", f"/v1/lineage/{world.app}", f"/v1/lineage/{world.asset}", f"/v1/lineage/{ada}",
        f"/v1/models/{world.model}/proof?asset={world.asset}", f"/v1/royalties/{ada}", f"/v1/assets/{world.asset}/usage",
        f"/v1/models/{world.model}/terms", f"/v1/usage/{world.app}", f"/v1/royalties/{ada}/lineage",
        f"/v1/assets/{world.asset}/paid-through", "/v1/openapi.json",
    ]:  # fmt: skip
        check(node, "GET", path, status=200)
    check(node, "GET", f"/v1/usage/{world.model}/quote?purpose=ai_inference&count=3", status=409)  # no terms set for its use
    check(node, "GET", f"/v1/events/{'ab' * 32}", status=404)
    check(node, "GET", "/v1/events/xyz", status=400)
    assert _call(node, "GET", "/v1/events/batch")[:2] == (405, "application/json"), "batch is no event id"
    allowed = urllib.request.Request(node.url + "/v1/events/batch", method="OPTIONS")
    try:
        urllib.request.urlopen(allowed, timeout=30)
    except urllib.error.HTTPError as exc:
        assert exc.code == 405 and exc.headers["Allow"] == "POST", (exc.code, exc.headers["Allow"])
    else:
        raise AssertionError("OPTIONS /v1/events/batch was answered")

    preflight = {"assets": [world.asset], "purpose": "ai_training", "account": mia}
    check(node, "POST", "/v1/preflight", json.dumps(preflight).encode(), "application/json", status=200)
    uploaded = check(node, "POST", "/v1/content", make_wav(1.0, seed=9), "audio/wav", status=201)
    match = bytes.fromhex(uploaded["fingerprint"])
    check(node, "POST", "/v1/fingerprints/match", match, "application/octet-stream", status=200)
    check(node, "POST", "/v1/content", b"", "text/plain", status=415)

    newcomer = Client(node)
    submitted = check(node, "POST", "/v1/events", newcomer.sign(ParticipantRegister("Nia", ("creator",))), "application/msgpack", status=202)
    check(node, "GET", f"/v1/events/{submitted['id']}", status=200)
    batch = encode_event_batch([Client(node).sign(ParticipantRegister("Ola", ("creator",))), b"\x00"])
    answer = check(node, "POST", "/v1/events/batch", batch, "application/msgpack", status=200)
    assert answer["accepted"] == 1 and "error" in answer["results"][1]
    check(node, "POST", "/v1/admin/peering", json.dumps({"enabled": True}).encode(), "application/json", status=200)
