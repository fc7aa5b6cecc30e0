"""A node's RPC against hostile input: every answer is JSON with a status that says whose fault it was."""

from __future__ import annotations

import json
import socket
import stat
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from protocol.events import ParticipantRegister
from protocol.keys import SigningKey

from .framework import NodeProcess, RpcError, wait_until
from .helpers import Client, asset_body, make_wav

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


def start_configured_node(tmp_path: Path, nodes: list[NodeProcess], name: str, extra: str) -> NodeProcess:
    """A dev node from a config file that sets what the test needs (``extra``: TOML sections)."""
    config = tmp_path / f"{name}.toml"
    config.write_text(f'[node]\ndata_dir = "{tmp_path / name}"\n{extra}')
    node = NodeProcess(name, tmp_path, config=config)
    nodes.append(node)
    return node.start()


def upload(node: NodeProcess, data: bytes) -> dict:
    return node.request("POST", "/v1/content", body=data, content_type="application/octet-stream")


def expect_status(status: int, call, *args) -> dict:
    with pytest.raises(RpcError) as caught:
        call(*args)
    assert caught.value.status == status, caught.value
    return {"code": caught.value.code, "message": caught.value.message}


def refused_with(status: int, call, *args) -> dict | None:
    """The error ``call`` answers with if its status is ``status``, else None (for ``wait_until``)."""
    try:
        call(*args)
    except RpcError as exc:
        return {"code": exc.code, "message": exc.message} if exc.status == status else None
    return None


def test_data_dir_and_content_are_private_to_the_owner(tmp_path: Path, nodes: list[NodeProcess]) -> None:
    node = NodeProcess("node0", tmp_path, data_dir=tmp_path / "node0")
    nodes.append(node)
    node.start()
    upload(node, make_wav(0.5))
    assert node.stop() == 0
    exposed = [
        f"{path} {stat.filemode(path.stat().st_mode)}"
        for path in [tmp_path / "node0", *(tmp_path / "node0").rglob("*")]
        if path.stat().st_mode & 0o077
    ]
    assert exposed == [], "readable by group or others:\n" + "\n".join(exposed)


def test_unregistered_uploads_expire_and_registered_ones_stay(tmp_path: Path, nodes: list[NodeProcess]) -> None:
    node = start_configured_node(tmp_path, nodes, "node0", "[content]\npending_ttl_s = 2\n")
    creator = Client(node)
    node.wait_final(creator.send(ParticipantRegister("Ada Tone", ("creator",))))
    registered, unregistered = upload(node, make_wav(0.5, seed=1)), upload(node, make_wav(0.5, seed=2))
    node.wait_final(creator.send(asset_body(registered, creator.did)))
    wait_until(
        lambda: refused_with(404, node.get, f"/v1/content/{unregistered['cid']}/info"),
        timeout=15,
        what="the unregistered upload to be removed",
    )
    assert node.get(f"/v1/content/{registered['cid']}/info")["size"] == registered["size"]
    assert not (tmp_path / "node0" / "content" / "files" / unregistered["sealed_cid"]).exists()
    error = expect_status(409, creator.send, asset_body(unregistered, creator.did))
    assert "upload it here first" in error["message"]


def test_pending_uploads_and_concurrent_uploads_are_bounded(tmp_path: Path, nodes: list[NodeProcess]) -> None:
    node = start_configured_node(
        tmp_path, nodes, "node0", "[rpc]\nmax_concurrent_uploads = 2\n[content]\nmax_pending_bytes = 300000\nmax_pending_files = 2\n"
    )
    error = expect_status(507, upload, node, bytes(300_001))
    assert "register it or wait" in error["message"]
    upload(node, b"first")
    upload(node, b"second")
    error = expect_status(429, upload, node, b"third")
    assert "register them or wait" in error["message"]

    node = start_configured_node(tmp_path, nodes, "node1", "[rpc]\nmax_concurrent_uploads = 2\n")
    host, port = url_host_port(node.url)
    streaming = []
    for _ in range(2):
        connection = socket.create_connection((host, port))
        connection.sendall(
            b"POST /v1/content HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: 1000000\r\n\r\npartial body"
        )
        streaming.append(connection)
    try:
        error = wait_until(lambda: refused_with(429, upload, node, b"small"), timeout=10, what="a third upload refused")
        assert "retry shortly" in error["message"]
    finally:
        for connection in streaming:
            connection.close()
    wait_until(lambda: upload(node, b"small"), timeout=10, what="uploads taken again once the others ended")


def url_host_port(url: str) -> tuple[str, int]:
    parsed = urllib.parse.urlsplit(url)
    assert parsed.hostname is not None and parsed.port is not None
    return parsed.hostname, parsed.port


def test_slow_header_connections_are_closed_while_the_node_keeps_answering(tmp_path: Path, nodes: list[NodeProcess]) -> None:
    idle_timeout = 2
    node = start_configured_node(tmp_path, nodes, "node0", f"[rpc]\nidle_timeout_s = {idle_timeout}\n")
    host, port = url_host_port(node.url)
    slow = []
    for _ in range(200):
        connection = socket.create_connection((host, port))
        connection.sendall(b"GET /v1/sta")
        connection.setblocking(False)
        slow.append(connection)
    opened = time.monotonic()
    closed_after: dict[int, float] = {}
    status_answers = 0
    try:
        while len(closed_after) < len(slow) and time.monotonic() - opened < idle_timeout + 15:
            for index, connection in enumerate(slow):
                if index in closed_after:
                    continue
                try:
                    if index % 2 == 0:
                        connection.send(b"t")  # half trickle a byte at a time, half stopped
                    if connection.recv(4096) == b"":
                        closed_after[index] = time.monotonic() - opened
                except BlockingIOError:
                    pass
                except OSError:  # reset or broken pipe: closed by the node
                    closed_after[index] = time.monotonic() - opened
            assert node.request("GET", "/v1/status", timeout=5)["head_height"] >= 0
            status_answers += 1
            time.sleep(0.1)
    finally:
        for connection in slow:
            connection.close()
    assert len(closed_after) == len(slow), f"{len(slow) - len(closed_after)} slow connections still open"
    assert max(closed_after.values()) <= idle_timeout + 3, max(closed_after.values())
    assert status_answers >= 5


def test_connections_over_the_cap_get_a_json_503(tmp_path: Path, nodes: list[NodeProcess]) -> None:
    node = start_configured_node(tmp_path, nodes, "node0", "[rpc]\nmax_connections = 4\n")
    host, port = url_host_port(node.url)
    held = [socket.create_connection((host, port)) for _ in range(4)]
    try:
        error = wait_until(lambda: refused_with(503, node.get, "/v1/status"), timeout=10, what="a fifth connection refused")
        assert error["code"] == "too_many_connections"
    finally:
        for connection in held:
            connection.close()
    wait_until(node.status, timeout=10, what="the node to answer once connections closed")


def test_an_ipv6_wildcard_host_gives_a_bracketed_loopback_url(tmp_path: Path, nodes: list[NodeProcess]) -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    node = start_configured_node(tmp_path, nodes, "node0", '[rpc]\nhost = "::"\n')
    assert node.url.startswith("http://[::1]:"), node.url
    assert node.get("/v1/status")["head_height"] >= 0
