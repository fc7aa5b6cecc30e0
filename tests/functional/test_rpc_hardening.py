"""A node's RPC against hostile input: every answer is JSON with a status that says whose fault it was."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Iterator

import pytest

from protocol.keys import SigningKey

from .framework import NodeProcess

pytestmark = pytest.mark.slow

DID = SigningKey.generate().did
TOO_HIGH = str(2**64)
SUPERSCRIPT_TWO = "%C2%B2"


@pytest.fixture(scope="module")
def dev_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    workdir = tmp_path_factory.mktemp("hardening")
    node = NodeProcess("node0", workdir, data_dir=workdir / "node0")
    try:
        yield node.start()
    finally:
        node.kill()


def raw_get(node: NodeProcess, path: str) -> tuple[int, str, dict]:
    try:
        with urllib.request.urlopen(node.url + path, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), json.loads(exc.read())


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/headers?from={TOO_HIGH}",
        f"/v1/blocks/{TOO_HIGH}",
        f"/v1/accounts/{DID}?after={TOO_HIGH}:0",
        f"/v1/accounts/{DID}?after=1:{TOO_HIGH}",
        f"/v1/headers?limit={SUPERSCRIPT_TWO}",
        f"/v1/headers?from={SUPERSCRIPT_TWO}",
        f"/v1/blocks/{SUPERSCRIPT_TWO}",
        f"/v1/catalog?purpose=ai_training&max_price={SUPERSCRIPT_TWO}",
        f"/v1/catalog?min_duration_ms={TOO_HIGH}",
        "/v1/catalog?max_duration_ms=",
        f"/v1/royalties/{DID}?from={SUPERSCRIPT_TWO}",
        f"/v1/accounts/{DID}?after={SUPERSCRIPT_TWO}:0",
        f"/v1/headers?limit={'9' * 5000}",
    ],
)
def test_invalid_numbers_are_a_json_400(dev_node: NodeProcess, path: str) -> None:
    status, content_type, body = raw_get(dev_node, path)
    assert status == 400, body
    assert content_type.startswith("application/json")
    assert body["error"]["code"] == "bad_request" and body["error"]["message"]


def test_dates_past_year_9999_are_capped(dev_node: NodeProcess) -> None:
    for to in ("100000000000000000000", "9" * 5000):
        status, _, body = raw_get(dev_node, f"/v1/royalties/{DID}?to={to}")
        assert status == 200, body
        assert body["period"]["to"] == "9999-12-31"
    status, _, body = raw_get(dev_node, f"/v1/royalties/{DID}?to=12345-01-01")
    assert status == 400, body


def test_a_wrong_method_is_a_json_405_with_allow(dev_node: NodeProcess) -> None:
    request = urllib.request.Request(dev_node.url + "/v1/status", method="DELETE")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 405
    assert "GET" in caught.value.headers["Allow"]
    assert json.loads(caught.value.read())["error"]["code"] == "method_not_allowed"
