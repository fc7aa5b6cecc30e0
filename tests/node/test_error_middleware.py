"""The RPC's error middleware: a bug in a handler still leaves as a JSON 500 with an id in the log."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from node.rpc.errors import error_middleware


async def crashing_handler(request: web.Request) -> web.Response:
    raise OverflowError("int too large to convert")


@pytest.fixture
async def client():
    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/crash", crashing_handler)
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_an_unexpected_exception_is_a_json_500_whose_id_is_logged(client, caplog) -> None:
    with caplog.at_level(logging.ERROR, logger="audiera.rpc"):
        response = await client.get("/crash")
    assert response.status == 500
    error = (await response.json())["error"]
    assert error["code"] == "internal"
    incident = error["message"].rsplit(" ", 1)[-1]
    assert len(incident) == 16 and int(incident, 16) >= 0
    assert "OverflowError" not in error["message"], "internals stay in the log"
    logged = [record for record in caplog.records if incident in record.getMessage()]
    assert logged and logged[0].exc_info is not None, "the log has the traceback under the same id"


async def test_a_wrong_method_keeps_its_allow_header(client) -> None:
    response = await client.post("/crash")
    assert response.status == 405
    assert "GET" in response.headers["Allow"]
    assert (await response.json())["error"]["code"] == "method_not_allowed"
