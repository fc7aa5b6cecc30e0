"""The OpenAPI document is generated from the body models, covers every route, and takes its enums from the code."""

from __future__ import annotations

import msgspec
import pytest

from node.rpc import api_models as m
from node.rpc.catalog_api import SORTS
from node.rpc.chain_views import event_view, header_view, proof_view
from node.rpc.openapi import OPERATIONS, openapi_document
from node.rpc.routes import ROUTES
from protocol.blocks import Header
from protocol.events import ASSET_TYPES, ParticipantRegister, sign_event
from protocol.keys import SigningKey
from protocol.merkle import MerkleProof
from protocol.terms import PURPOSES


def _refs(value: object) -> set[str]:
    if isinstance(value, dict):
        found = {value["$ref"].rsplit("/", 1)[-1]} if "$ref" in value else set()
        return found.union(*(_refs(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(_refs(item) for item in value))
    return set()


def test_every_route_is_described_and_nothing_else() -> None:
    assert set(OPERATIONS) == {(method, path) for method, path, _, _ in ROUTES}


def test_every_response_has_a_schema_and_a_content_type() -> None:
    document = openapi_document()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                (content,) = response["content"].values()
                assert content["schema"], (method, path, status)


def test_every_reference_resolves_to_a_model_schema() -> None:
    document = openapi_document()
    components = document["components"]["schemas"]
    assert _refs(document["paths"]) | _refs(components) <= set(components)
    assert components["Status"]["required"][0] == "version"


def test_status_codes_and_content_types_are_the_handlers() -> None:
    paths = openapi_document()["paths"]
    assert set(paths["/v1/blocks"]["post"]["responses"]) >= {"202", "400", "409", "413", "415"}
    assert "200" not in paths["/v1/blocks"]["post"]["responses"]
    assert set(paths["/v1/events"]["post"]["responses"]) >= {"202", "400"}
    assert set(paths["/v1/content"]["post"]["responses"]) >= {"201", "413", "415", "429", "507"}
    assert "/v1/access" not in paths  # content moves sealed; keys come as releases
    assert set(paths["/v1/access/{id}/releases"]["get"]["responses"]) >= {"200", "404"}
    assert "requestBody" in paths["/v1/admin/peering"]["post"] and "requestBody" in paths["/v1/events/batch"]["post"]


def test_enums_come_from_the_code() -> None:
    document = openapi_document()
    components = document["components"]["schemas"]
    assert set(components["PreflightRequest"]["properties"]["purpose"]["enum"]) == set(PURPOSES)
    assert set(components["CatalogEntry"]["properties"]["asset_type"]["enum"]) == set(ASSET_TYPES)
    catalog = {param["name"]: param["schema"] for param in document["paths"]["/v1/catalog"]["get"]["parameters"]}
    assert catalog["sort"]["enum"] == list(SORTS)
    assert catalog["type"]["enum"] == list(ASSET_TYPES)
    assert catalog["purpose"]["enum"] == list(PURPOSES)


def test_the_chain_views_are_what_the_models_say() -> None:
    key = SigningKey(bytes(32))
    event = sign_event(key, ParticipantRegister("Ada", ("creator",)), 1, 1_700_000_000_000)
    assert msgspec.convert(event_view(event), m.EventView).author == key.did
    header = Header(7, bytes(32), 1_700_000_000_000, key.did, bytes(32), bytes(32), 1, bytes(64))
    assert msgspec.convert(header_view(header, final=True), m.HeaderView).height == 7
    assert msgspec.convert(proof_view(MerkleProof(0, 1, ())), m.MerkleProof).size == 1


def test_a_view_that_breaks_its_model_is_refused() -> None:
    key = SigningKey(bytes(32))
    view = event_view(sign_event(key, ParticipantRegister("Ada", ("creator",)), 1, 1))
    with pytest.raises(msgspec.ValidationError, match=r"\$\.id"):
        msgspec.convert({**view, "id": "not hex"}, m.EventView)
