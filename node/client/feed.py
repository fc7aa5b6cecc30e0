"""A reader for a node's live feed (``/v1/feed``, a websocket), on the standard library only.

    with FeedReader("http://127.0.0.1:8680", kinds=["asset.register"]) as feed:
        for message in feed.messages():     # dicts: {"type": "head" | "reorg" | "final" | "events", ...}
            ...

Only what reading a feed needs of RFC 6455: the handshake, text frames (also fragmented),
ping and close; frames from the client are masked, as the protocol requires. A feed the
node ends raises :class:`FeedClosed` with the node's code and reason (a client that fell
behind is told so); a refused subscription raises ``RpcError`` like any other request.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import struct
from typing import Any, Iterable, Iterator
from urllib.parse import urlencode, urlsplit

from .rpc import DISCONNECTED, UNREACHABLE, RpcError

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TEXT, _CONTINUATION, _CLOSE, _PING, _PONG = 0x1, 0x0, 0x8, 0x9, 0xA
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""A message from the node larger than this is refused (a block's events fit many times over)."""


class FeedClosed(Exception):
    """The node ended the feed: ``code`` 1000 for a normal end, 1008 when this client fell behind."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason or f"the feed was closed (code {code})")
        self.code, self.reason = code, reason


def feed_path(topics: Iterable[str] = (), kinds: Iterable[str] = (), accounts: Iterable[str] = (), assets: Iterable[str] = ()) -> str:
    query = [("topics", ",".join(topics))] if topics else []
    query += [("kind", kind) for kind in kinds] + [("account", a) for a in accounts] + [("asset", a) for a in assets]
    return "/v1/feed" + ("?" + urlencode(query) if query else "")


class FeedReader:
    def __init__(
        self, url: str, *, topics: Iterable[str] = (), kinds: Iterable[str] = (), accounts: Iterable[str] = (),
        assets: Iterable[str] = (), timeout: float | None = None,
    ) -> None:
        """``timeout``: seconds to wait for the next message before ``messages()`` raises TimeoutError (None: forever)."""
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the feed reader speaks to http://host:port nodes, not {url!r}")
        self._address = (parts.hostname, parts.port or 80)
        self._path = parts.path.rstrip("/") + feed_path(list(topics), list(kinds), list(accounts), list(assets))
        self._timeout = timeout
        self._sock: socket.socket | None = None
        self._buffer = b""

    def __enter__(self) -> "FeedReader":
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def connect(self) -> None:
        try:
            sock = socket.create_connection(self._address, timeout=10)
        except OSError as exc:
            raise RpcError(None, UNREACHABLE, f"no node answers at {self._address[0]}:{self._address[1]}: {exc.strerror or exc}") from None
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {self._path} HTTP/1.1\r\nHost: {self._address[0]}:{self._address[1]}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        sock.sendall(request.encode())
        self._sock = sock
        head = self._read_until(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ")[1]) if status_line.startswith("HTTP/1.1 ") else 0
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
        if status != 101:
            self._refused(status, headers)
        expected = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
        if headers.get("sec-websocket-accept") != expected:
            self.close()
            raise RpcError(None, "not_rpc", "the answer to the feed's upgrade is not a websocket handshake")
        sock.settimeout(self._timeout)

    def _refused(self, status: int, headers: dict[str, str]) -> None:
        length = int(headers.get("content-length", "0") or 0)
        body = self._read_exactly(min(length, 65536)) if length else b""
        self.close()
        try:
            error = json.loads(body)["error"]
            raise RpcError(status, error["code"], error["message"])
        except (ValueError, KeyError, TypeError):
            raise RpcError(status or None, "not_rpc", f"the node refused the feed (HTTP {status})") from None

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._send_frame(_CLOSE, struct.pack("!H", 1000))
            except OSError:
                pass
            self._sock.close()
            self._sock = None

    def messages(self) -> Iterator[dict[str, Any]]:
        """Each message as the node sent it; raises FeedClosed when the node ends the feed."""
        while True:
            yield json.loads(self._read_message())

    def _read_message(self) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            final, opcode, payload = self._read_frame()
            if opcode == _PING:
                self._send_frame(_PONG, payload)
            elif opcode == _CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self._sock.close()  # type: ignore[union-attr]
                self._sock = None
                raise FeedClosed(code, payload[2:].decode("utf-8", "replace"))
            elif opcode in (_TEXT, _CONTINUATION):
                size += len(payload)
                if size > MAX_MESSAGE_BYTES:
                    raise RpcError(None, DISCONNECTED, f"a feed message exceeds {MAX_MESSAGE_BYTES} bytes")
                parts.append(payload)
                if final:
                    return b"".join(parts)

    def _read_frame(self) -> tuple[bool, int, bytes]:
        first, second = self._read_exactly(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._read_exactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._read_exactly(8))[0]
        if length > MAX_MESSAGE_BYTES:
            raise RpcError(None, DISCONNECTED, f"a feed frame of {length} bytes exceeds {MAX_MESSAGE_BYTES}")
        mask = self._read_exactly(4) if second & 0x80 else b""
        payload = self._read_exactly(length)
        if mask:
            payload = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        return bool(first & 0x80), first & 0x0F, payload

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        assert len(payload) < 126, "the client only sends control frames"
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self._sock.sendall(bytes((0x80 | opcode, 0x80 | len(payload))) + mask + masked)  # type: ignore[union-attr]

    def _read_exactly(self, count: int) -> bytes:
        while len(self._buffer) < count:
            self._fill()
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            if len(self._buffer) > 65536:
                raise RpcError(None, "not_rpc", "the answer to the feed's upgrade has no end of headers")
            self._fill()
        head, _, self._buffer = self._buffer.partition(marker)
        return head

    def _fill(self) -> None:
        assert self._sock is not None, "the feed is closed"
        try:
            piece = self._sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no feed message came in time") from None
        except OSError as exc:
            raise RpcError(None, DISCONNECTED, f"the feed's connection broke: {exc}") from None
        if not piece:
            raise RpcError(None, DISCONNECTED, "the node closed the feed's connection")
        self._buffer += piece
