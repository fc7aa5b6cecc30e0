"""A small HTTP client for the node's RPC, on the standard library only.

Every failure becomes a CliError with one line a person can act on: the node is not
running, the node refused the request (its own message, status and code), or it
answered something that is not the RPC's JSON.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote, urlencode, urlsplit

from .errors import CliError, UsageError

DEFAULT_NODE_URL = "http://127.0.0.1:8680"
REQUEST_TIMEOUT = 30.0
UPLOAD_TIMEOUT = 600.0
"""Per socket operation; the node hashes and probes the whole file before it answers."""
UPLOAD_BLOCK_SIZE = 1024 * 1024
"""http.client's default of 8 KiB makes a fast local upload CPU-bound on syscalls."""


def segment(text: str) -> str:
    """One user-supplied path segment (a CID, did, id or block ref), percent-encoded."""
    return quote(text, safe=":")


class NodeError(CliError):
    """The node answered with an RPC error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} (HTTP {status} {code})")
        self.status, self.code, self.node_message = status, code, message


class NodeClient:
    def __init__(self, url: str, *, timeout: float = REQUEST_TIMEOUT) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"--node must be a URL like {DEFAULT_NODE_URL}, not {url!r}")
        try:
            port = parts.port
        except ValueError:
            raise UsageError(f"--node {url!r} has an invalid port") from None
        self.url = url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = port
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout

    # ------------------------------------------------------------ requests

    def get(self, path: str, query: dict[str, Any] | None = None) -> Any:
        """GET a JSON document, e.g. ``get("/v1/blocks/head", {"events": "true"})``."""
        if query:
            path += "?" + urlencode({key: value for key, value in query.items() if value is not None})
        return self._request("GET", path, None, {}, self._timeout)

    def post_event(self, raw: bytes) -> Any:
        """Submit a signed event's canonical bytes."""
        headers = {"Content-Type": "application/msgpack", "Content-Length": str(len(raw))}
        return self._request("POST", "/v1/events", raw, headers, self._timeout)

    def post_json(self, path: str, document: Any) -> Any:
        """POST a JSON document (e.g. a preflight request) and return the JSON answer."""
        raw = json.dumps(document).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(raw))}
        return self._request("POST", path, raw, headers, self._timeout)

    def upload(self, path: Path, content_type: str, on_read: Callable[[Any], Any] | None = None) -> Any:
        """Stream a file to POST /v1/content; ``on_read`` may wrap the open file (to count progress)."""
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            body = on_read(file) if on_read else file
            headers = {"Content-Type": content_type, "Content-Length": str(size)}
            return self._request("POST", "/v1/content", body, headers, UPLOAD_TIMEOUT)

    # ------------------------------------------------------------ plumbing

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return cls(self._host, self._port, timeout=timeout, blocksize=UPLOAD_BLOCK_SIZE)

    def _unreachable(self, exc: BaseException) -> CliError:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return CliError(f"cannot reach the node at {self.url}: {reason}; is audiera-node running?")

    def _request(self, method: str, path: str, body: Any, headers: dict[str, str], timeout: float) -> Any:
        connection = self._connection(timeout)
        try:
            try:
                connection.connect()
            except OSError as exc:
                raise self._unreachable(exc) from None
            try:
                connection.request(method, self._prefix + path, body=body, headers=headers)
            except (BrokenPipeError, ConnectionResetError):
                # The node may refuse an upload (too large, wrong type) before reading it
                # all and close the socket: its answer is still waiting to be read.
                pass
            try:
                response = connection.getresponse()
                data = response.read()
            except socket.timeout:
                raise CliError(f"the node at {self.url} did not answer {method} {path} within {timeout:.0f} s") from None
            except (OSError, http.client.HTTPException) as exc:
                raise CliError(f"the node at {self.url} closed the connection during {method} {path}: {exc}") from None
        finally:
            connection.close()
        return self._decode(response.status, data, method, path)

    def _decode(self, status: int, data: bytes, method: str, path: str) -> Any:
        try:
            document = json.loads(data)
        except ValueError:
            snippet = data[:80].decode("utf-8", "replace").strip()
            raise CliError(
                f"the node at {self.url} answered {method} {path} with HTTP {status} and no JSON ({snippet!r}); "
                "is this an Audiera node?"
            ) from None
        if status >= 400:
            error = document.get("error") if isinstance(document, dict) else None
            if isinstance(error, dict):
                raise NodeError(status, str(error.get("code", "error")), str(error.get("message", "")))
            raise NodeError(status, "error", f"{method} {path} failed")
        return document
