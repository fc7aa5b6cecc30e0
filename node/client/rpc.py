"""A Python client for a node's RPC, on the standard library only (it starts fast, as a CLI must).

    client = NodeClient("http://127.0.0.1:8680")
    client.get("/v1/status")["head_height"]
    client.post_event(signed.raw)                      # application/msgpack in, JSON out
    client.upload(Path("song.wav"), "audio/wav")       # streamed from the file
    with client.open_stream("GET", f"/v1/content/{cid}") as download:
        for piece in download.pieces():               # streamed to the caller (sealed: node.client.access opens it)
            ...

Every answer the node gives is JSON (but a download's body). Every failure raises one
exception type, :class:`RpcError`: the node refused the request (its HTTP status, its
error code and its message), or it could not be asked (not running, no answer in time,
connection cut, not an Audiera node), with ``status`` None and a code that says which.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Mapping
from urllib.parse import quote, urlencode, urlsplit

DEFAULT_NODE_URL = "http://127.0.0.1:8680"
REQUEST_TIMEOUT = 30.0
"""Seconds per socket operation of an ordinary request."""
TRANSFER_TIMEOUT = 600.0
"""Per socket operation of an upload or download: the node hashes and probes a whole upload before it answers."""
BLOCK_SIZE = 1024 * 1024
"""http.client's default of 8 KiB makes a fast local upload CPU-bound on syscalls."""
MSGPACK = "application/msgpack"
JSON = "application/json"

UNREACHABLE = "unreachable"
"""``RpcError.code`` when nothing listens at the node's URL."""
TIMEOUT = "timeout"
"""``RpcError.code`` when the node did not answer in time."""
DISCONNECTED = "disconnected"
"""``RpcError.code`` when the connection broke before the whole answer came."""
NOT_RPC = "not_rpc"
"""``RpcError.code`` when the answer is not the RPC's JSON (another server at that URL?)."""


class RpcError(Exception):
    """A request that failed: refused by the node, or never answered."""

    def __init__(self, status: int | None, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        """The node's HTTP status; None when the node gave no RPC answer."""
        self.code = code
        """The node's error code (``not_found``, ``rejected``, ...) or one of this module's transport codes."""
        self.message = message
        """What went wrong, in words a user can act on."""

    def __str__(self) -> str:
        if self.status is None:
            return self.message
        return f"{self.message} (HTTP {self.status} {self.code})"


def segment(text: str) -> str:
    """One user-supplied path segment (a CID, did, id or block ref), percent-encoded."""
    return quote(text, safe=":")


class NodeClient:
    """The RPC of the node at ``url`` (``http://host:port``, optionally with a path prefix).

    Each request opens its own connection unless ``keep_alive`` is set; a kept-alive
    client holds one connection and must not be shared between threads.
    """

    def __init__(self, url: str, *, timeout: float = REQUEST_TIMEOUT, keep_alive: bool = False) -> None:
        """Raises ValueError for a URL that is not ``http(s)://host[:port][/prefix]``."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"a node URL looks like {DEFAULT_NODE_URL}, not {url!r}")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"the node URL {url!r} has an invalid port") from None
        self.url = url.rstrip("/")
        """The node's base URL, without a trailing slash."""
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = port
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._keep_alive = keep_alive
        self._kept: http.client.HTTPConnection | None = None

    def __enter__(self) -> "NodeClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close a kept-alive connection (a no-op otherwise)."""
        if self._kept is not None:
            self._kept.close()
            self._kept = None

    # ------------------------------------------------------------ requests

    def get(self, path: str, query: dict[str, Any] | None = None) -> Any:
        """GET a JSON document, e.g. ``get("/v1/blocks/head", {"events": "true"})``; None values are left out."""
        if query:
            path += "?" + urlencode({key: value for key, value in query.items() if value is not None})
        return self.request("GET", path)

    def post_json(self, path: str, document: Any) -> Any:
        """POST a JSON document (e.g. a preflight request) and return the JSON answer."""
        return self.request("POST", path, body=json.dumps(document).encode(), content_type=JSON)

    def post_msgpack(self, path: str, raw: bytes, *, timeout: float | None = None) -> Any:
        """POST canonical MessagePack bytes (a signed event, a batch of them, a block) and return the JSON answer."""
        return self.request("POST", path, body=raw, content_type=MSGPACK, timeout=timeout)

    def post_event(self, raw: bytes) -> Any:
        """Submit a signed event's canonical bytes to ``POST /v1/events``."""
        return self.post_msgpack("/v1/events", raw)

    def upload(self, path: Path, content_type: str, on_read: Callable[[BinaryIO], Any] | None = None) -> Any:
        """Stream a file to ``POST /v1/content``; ``on_read`` may wrap the open file (to count progress)."""
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            body = on_read(file) if on_read else file
            return self.request("POST", "/v1/content", body=body, content_type=content_type, length=size, timeout=TRANSFER_TIMEOUT)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | BinaryIO | None = None,
        content_type: str | None = None,
        length: int | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Any request whose answer is JSON; ``body`` may be bytes or a file to stream (then give its ``length``)."""
        with self._exchange(method, path, body, content_type, length, timeout) as response:
            data = self._read_all(response, method, path, timeout)
        return self._decode(response.status, data, method, path)

    @contextmanager
    def open_download(self, path: str, raw: bytes, *, content_type: str = MSGPACK) -> Iterator["Download"]:
        """POST ``raw`` and stream the answer's body: a refusal raises RpcError first."""
        with self.open_stream("POST", path, raw, content_type=content_type) as download:
            yield download

    @contextmanager
    def open_stream(
        self, method: str, path: str, raw: bytes | None = None, *, content_type: str | None = None
    ) -> Iterator["Download"]:
        """Send a request and stream the answer's body (e.g. GET ``/v1/content/{cid}``, sealed); a refusal raises RpcError first."""
        length = None if raw is None else len(raw)
        with self._exchange(method, path, raw, content_type, length, TRANSFER_TIMEOUT) as response:
            if response.status != 200:
                data = self._read_all(response, method, path, TRANSFER_TIMEOUT)
                self._decode(response.status, data, method, path)
                raise RpcError(response.status, NOT_RPC, f"the node at {self.url} answered {method} {path} with HTTP {response.status}")
            yield Download(self.url, response)

    # ------------------------------------------------------------ plumbing

    @contextmanager
    def _exchange(
        self, method: str, path: str, body: Any, content_type: str | None, length: int | None, timeout: float | None
    ) -> Iterator[http.client.HTTPResponse]:
        timeout = self._timeout if timeout is None else timeout
        headers = {}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if body is not None:
            headers["Content-Length"] = str(len(body) if isinstance(body, (bytes, bytearray)) else length)
        reused = self._kept is not None
        connection = self._connection(timeout)
        kept = False
        try:
            try:
                response = self._send(connection, method, path, body, headers, timeout)
            except RpcError:
                if not (reused and method == "GET"):
                    raise
                # A kept connection the node has since closed: ask once more on a new one.
                connection.close()
                self._kept = None
                connection = self._connection(timeout)
                response = self._send(connection, method, path, body, headers, timeout)
            yield response
            # Only a connection whose answer was read to its end can carry the next request.
            kept = self._keep_alive and response.isclosed() and not response.will_close
        finally:
            if kept:
                self._kept = connection
            else:
                self._kept = None
                connection.close()

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self._kept is not None:
            self._kept.timeout = timeout
            if self._kept.sock is not None:
                self._kept.sock.settimeout(timeout)
            return self._kept
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return cls(self._host, self._port, timeout=timeout, blocksize=BLOCK_SIZE)

    def _send(
        self, connection: http.client.HTTPConnection, method: str, path: str, body: Any, headers: dict[str, str], timeout: float
    ) -> http.client.HTTPResponse:
        if connection.sock is None:
            try:
                connection.connect()
            except OSError as exc:
                reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
                raise RpcError(None, UNREACHABLE, f"cannot reach the node at {self.url}: {reason}; is audiera-node running?") from None
        try:
            connection.request(method, self._prefix + path, body=body, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            # The node may refuse an upload (too large, wrong type) before reading it
            # all and close the socket: its answer is still waiting to be read.
            pass
        except OSError as exc:
            raise self._broken(method, path, exc) from None
        try:
            return connection.getresponse()
        except socket.timeout:
            raise self._late(method, path, timeout) from None
        except (OSError, http.client.HTTPException) as exc:
            raise self._broken(method, path, exc) from None

    def _read_all(self, response: http.client.HTTPResponse, method: str, path: str, timeout: float | None) -> bytes:
        try:
            return response.read()
        except socket.timeout:
            raise self._late(method, path, self._timeout if timeout is None else timeout) from None
        except (OSError, http.client.HTTPException) as exc:
            raise self._broken(method, path, exc) from None

    def _late(self, method: str, path: str, timeout: float) -> RpcError:
        return RpcError(None, TIMEOUT, f"the node at {self.url} did not answer {method} {path} within {timeout:.0f} s")

    def _broken(self, method: str, path: str, exc: BaseException) -> RpcError:
        return RpcError(None, DISCONNECTED, f"the node at {self.url} closed the connection during {method} {path}: {exc}")

    def _decode(self, status: int, data: bytes, method: str, path: str) -> Any:
        try:
            document = json.loads(data)
        except ValueError:
            snippet = data[:80].decode("utf-8", "replace").strip()
            raise RpcError(
                None,
                NOT_RPC,
                f"the node at {self.url} answered {method} {path} with HTTP {status} and no JSON ({snippet!r}); "
                "is this an Audiera node?",
            ) from None
        if status >= 400:
            error = document.get("error") if isinstance(document, dict) else None
            if isinstance(error, dict):
                raise RpcError(status, str(error.get("code", "error")), str(error.get("message", "")))
            raise RpcError(status, "error", f"{method} {path} failed")
        return document


class Download:
    """The body of an answer, read piece by piece; ``length`` is what the node announced (or None)."""

    def __init__(self, url: str, response: http.client.HTTPResponse) -> None:
        self._url = url
        self._response = response
        self.length: int | None = response.length
        """The announced Content-Length, None if the node streams without one."""
        self.headers: Mapping[str, str] = response.headers
        """The answer's headers (a licensed download names its access event in ``X-Audiera-Access``)."""
        self.received = 0
        """Bytes read so far."""

    def pieces(self, size: int = BLOCK_SIZE) -> Iterator[bytes]:
        """The body in pieces of at most ``size`` bytes; a broken transfer raises RpcError (code ``disconnected``)."""
        while True:
            try:
                piece = self._response.read(size)
            except (socket.timeout, http.client.HTTPException, ConnectionError) as exc:
                raise RpcError(
                    None, DISCONNECTED, f"the download from {self._url} broke off after {self.received} bytes: {exc}"
                ) from None
            if not piece:
                return
            self.received += len(piece)
            yield piece
