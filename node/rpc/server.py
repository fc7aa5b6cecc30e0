"""Serving the RPC on TCP with every connection bounded in time and number.

aiohttp 3.14 has no separate header-read timeout, but its keep-alive timer is one: it
starts when a connection opens and after each answer, and closes the connection if no
whole request has arrived by then, however slowly the bytes of a partial one trickle
in. A request being handled (an upload streaming its body) is not idle and is not cut.
aiohttp has no connection cap either: the site's protocol factory counts the open
connections and answers the ones beyond the cap with a 503 before closing them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from contextlib import asynccontextmanager
from typing import AsyncIterator

from aiohttp import web

from ..config import ConfigError, RpcConfig

MAX_LINE_BYTES = 8190
"""Longest request line: every path and query of the API fits in a fraction of it."""
MAX_FIELD_BYTES = 8190
MAX_HEADERS = 64


def url_of(host: str, port: int) -> str:
    """The URL a local client reaches the RPC at: IPv6 in brackets, a wildcard bind as its loopback."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"http://{host}:{port}"
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    return f"http://[{address}]:{port}" if address.version == 6 else f"http://{address}:{port}"


class _Refusal(asyncio.Protocol):
    """One connection over the cap: told why in one 503, then closed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        body = json.dumps(
            {"error": {"code": "too_many_connections", "message": "this node has all the RPC connections it serves open; retry shortly"}}
        ).encode()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
            f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        assert isinstance(transport, asyncio.Transport)
        transport.write(head + body)
        transport.close()


class _CappedSite(web.TCPSite):
    def __init__(self, runner: web.AppRunner, host: str, port: int, max_connections: int) -> None:
        super().__init__(runner, host, port)
        self._max_connections = max_connections

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None

        def protocol() -> asyncio.Protocol:
            if len(server.connections) >= self._max_connections:
                return _Refusal()
            return server()

        self._server = await asyncio.get_running_loop().create_server(protocol, self._host, self._port)
        self._bound_port = self._server.sockets[0].getsockname()[1]


@asynccontextmanager
async def serve_rpc(app: web.Application, config: RpcConfig) -> AsyncIterator[str]:
    """Serve ``app`` on the configured host and port; yields the URL a local client can use."""
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        keepalive_timeout=config.idle_timeout_s,
        max_line_size=MAX_LINE_BYTES,
        max_field_size=MAX_FIELD_BYTES,
        max_headers=MAX_HEADERS,
    )
    await runner.setup()
    try:
        site = _CappedSite(runner, config.host, config.port, config.max_connections)
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(f"cannot listen for RPC on {config.host}:{config.port}: {exc.strerror}; pass --rpc-port") from None
        host, port = runner.addresses[0][:2]
        yield url_of(host, port)
    finally:
        await runner.cleanup()
