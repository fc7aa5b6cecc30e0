"""Errors carry their own HTTP status and code; the RPC's request checks refuse with 415, 413 and 403."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from node.chain.importer import UnknownParent
from node.chain.intake import AlreadyIncluded, ContentMissing
from node.chain.mempool import MempoolFull, NonceConflict
from node.rpc.errors import ApiError, error_middleware
from node.rpc.request_checks import MSGPACK_TYPES, check_body, require_loopback
from protocol.errors import DecodeError, InvalidBlock, InvalidSignature, ProtocolError, Rejected
from protocol.evidence import InvalidEvidence
from storage.errors import StorageError

STATUS_OF = {
    DecodeError: 400,
    InvalidSignature: 400,
    InvalidBlock: 400,
    InvalidEvidence: 400,
    Rejected: 409,
    NonceConflict: 409,
    AlreadyIncluded: 409,
    ContentMissing: 409,
    UnknownParent: 409,
    MempoolFull: 503,
    StorageError: 500,
}


@pytest.mark.parametrize("error_type", list(STATUS_OF), ids=lambda error_type: error_type.__name__)
async def test_error_leaves_with_the_status_and_code_its_type_declares(error_type: type[Exception]) -> None:
    async def fail(request: web.Request) -> web.Response:
        raise error_type("what went wrong")

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/fail", fail)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/fail")
        document = await response.json()
    assert response.status == STATUS_OF[error_type] == error_type.status  # type: ignore[attr-defined]
    assert document == {"error": {"code": error_type.code, "message": "what went wrong"}}  # type: ignore[attr-defined]


def test_every_protocol_error_declares_a_client_or_server_status() -> None:
    def subclasses(cls: type) -> list[type]:
        return [cls] + [sub for direct in cls.__subclasses__() for sub in subclasses(direct)]

    for error_type in subclasses(ProtocolError):
        assert 400 <= error_type.status <= 599, error_type


class _Transport:
    def __init__(self, peer: str) -> None:
        self._peer = peer

    def get_extra_info(self, name: str, default: object = None) -> object:
        return (self._peer, 40000) if name == "peername" else default


def _request(content_type: str = "application/msgpack", length: int | None = None, peer: str = "127.0.0.1") -> web.Request:
    headers = {"Content-Type": content_type}
    if length is not None:
        headers["Content-Length"] = str(length)
    return make_mocked_request("POST", "/v1/anything", headers=headers, transport=_Transport(peer))


def _refusal(call) -> ApiError:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value


def test_check_body_accepts_a_listed_type_within_the_limit() -> None:
    check_body(_request("application/x-msgpack", 100), types=MSGPACK_TYPES, hint="msgpack", max_bytes=100)
    check_body(_request("audio/flac", 5), types=("audio/*",), hint="audio")
    check_body(_request("application/msgpack"), types=MSGPACK_TYPES, hint="msgpack", max_bytes=10)  # chunked: no length


def test_invalid_body_type_is_refused_with_415_and_the_hint() -> None:
    error = _refusal(lambda: check_body(_request("application/json", 10), types=MSGPACK_TYPES, hint="send msgpack"))
    assert (error.status, error.code, error.message) == (415, "unsupported_media_type", "send msgpack")
    error = _refusal(lambda: check_body(_request("audiox/wav"), types=("audio/*",), hint="send audio"))
    assert error.status == 415


def test_invalid_body_size_is_refused_with_413_before_reading() -> None:
    error = _refusal(lambda: check_body(_request(length=101), types=MSGPACK_TYPES, hint="", max_bytes=100, limit_message="too big"))
    assert (error.status, error.code, error.message) == (413, "too_large", "too big")


def test_loopback_clients_pass_and_others_are_forbidden() -> None:
    require_loopback(_request(peer="127.0.0.1"))
    require_loopback(_request(peer="::1"))
    error = _refusal(lambda: require_loopback(_request(peer="192.0.2.7")))
    assert (error.status, error.code) == (403, "forbidden")
