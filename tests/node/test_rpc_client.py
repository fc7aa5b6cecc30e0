"""The RPC client against a small HTTP server on loopback: answers, refusals, transport failures, streaming."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from node.client import NodeClient, RpcError
from node.client import rpc


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("X-Audiera-Access", "ab" * 32)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.connections.add(self.client_address)
        if self.path.startswith("/prefix/v1/echo"):
            self._answer(200, json.dumps({"path": self.path}).encode())
        elif self.path == "/v1/missing":
            self._answer(404, json.dumps({"error": {"code": "not_found", "message": "block 9 was not found"}}).encode())
        elif self.path == "/v1/html":
            self._answer(200, b"<html>hello</html>", "text/html")
        elif self.path == "/v1/slow":
            self.server.release.wait(5)
            self._answer(200, b"{}")
        else:
            self._answer(200, json.dumps({"path": self.path}).encode())

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = self.rfile.read(length)
        if self.path == "/v1/access":
            if body == b"refused":
                self._answer(403, json.dumps({"error": {"code": "access_denied", "message": "no license"}}).encode())
            else:
                self._answer(200, body * 3, "application/octet-stream")
            return
        document = {"type": self.headers["Content-Type"], "length": length, "sha": body[:16].hex()}
        self._answer(201, json.dumps(document).encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections: set[tuple[str, int]] = set()
        self.release = threading.Event()


@pytest.fixture
def server() -> Iterator[_Server]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def _url(server: _Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_get_encodes_the_query_and_keeps_the_path_prefix(server: _Server) -> None:
    client = NodeClient(_url(server) + "/prefix/")
    answer = client.get("/v1/echo", {"events": "true", "after": None, "q": "a b"})
    assert answer == {"path": "/prefix/v1/echo?events=true&q=a+b"}


def test_refusal_raises_rpc_error_with_status_code_and_message(server: _Server) -> None:
    with pytest.raises(RpcError) as caught:
        NodeClient(_url(server)).get("/v1/missing")
    error = caught.value
    assert (error.status, error.code, error.message) == (404, "not_found", "block 9 was not found")
    assert str(error) == "block 9 was not found (HTTP 404 not_found)"


def test_invalid_answer_that_is_not_json_is_an_rpc_error(server: _Server) -> None:
    with pytest.raises(RpcError) as caught:
        NodeClient(_url(server)).get("/v1/html")
    assert caught.value.status is None and caught.value.code == rpc.NOT_RPC
    assert "is this an Audiera node?" in caught.value.message


def test_invalid_unreachable_node_is_an_rpc_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RpcError) as caught:
        NodeClient(f"http://127.0.0.1:{port}").get("/v1/status")
    assert caught.value.code == rpc.UNREACHABLE
    assert caught.value.message.startswith(f"cannot reach the node at http://127.0.0.1:{port}: ")


def test_slow_answer_times_out_with_an_rpc_error(server: _Server) -> None:
    with pytest.raises(RpcError) as caught:
        NodeClient(_url(server), timeout=0.2).get("/v1/slow")
    assert caught.value.code == rpc.TIMEOUT and "did not answer GET /v1/slow" in caught.value.message


@pytest.mark.parametrize("url", ["ftp://example.org", "127.0.0.1:8680", "http://127.0.0.1:port"])
def test_invalid_url_is_a_value_error(url: str) -> None:
    with pytest.raises(ValueError):
        NodeClient(url)


def test_post_json_and_msgpack_carry_their_content_types(server: _Server) -> None:
    client = NodeClient(_url(server))
    assert client.post_json("/v1/preflight", {"a": 1})["type"] == "application/json"
    answer = client.post_event(b"\x81\xa1k\x01")
    assert answer == {"type": "application/msgpack", "length": 4, "sha": "81a16b01"}


def test_upload_streams_the_file_through_on_read(server: _Server, tmp_path: Path) -> None:
    path = tmp_path / "song.wav"
    path.write_bytes(bytes(range(256)) * 4096)
    read = []

    class Counting:
        def __init__(self, file) -> None:  # type: ignore[no-untyped-def]
            self.file = file

        def read(self, size: int = -1) -> bytes:
            piece = self.file.read(size)
            read.append(len(piece))
            return piece

    answer = NodeClient(_url(server)).upload(path, "audio/wav", Counting)
    assert answer["type"] == "audio/wav" and answer["length"] == path.stat().st_size
    assert sum(read) == path.stat().st_size and max(read) <= rpc.BLOCK_SIZE


def test_download_streams_the_body_and_a_refusal_raises_first(server: _Server) -> None:
    client = NodeClient(_url(server))
    with client.open_download("/v1/access", b"abc") as download:
        assert download.length == 9 and download.headers["X-Audiera-Access"] == "ab" * 32
        assert b"".join(download.pieces(4)) == b"abcabcabc"
        assert download.received == 9
    with pytest.raises(RpcError) as caught:
        with client.open_download("/v1/access", b"refused"):
            pass
    assert (caught.value.status, caught.value.code) == (403, "access_denied")


def test_keep_alive_sends_every_request_on_one_connection(server: _Server) -> None:
    with NodeClient(_url(server), keep_alive=True) as client:
        for _ in range(5):
            client.get("/v1/status")
    assert len(server.connections) == 1
    fresh = NodeClient(_url(server))
    fresh.get("/v1/status")
    fresh.get("/v1/status")
    assert len(server.connections) == 3
