"""The RPC application: JSON over HTTP under /v1, loopback by default."""

from __future__ import annotations

from aiohttp import web

from ..services import Services
from .context import SERVICES
from .errors import error_middleware
from .openapi import openapi_document
from .routes import ROUTES, STANDARD_ROUTES


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


def create_app(services: Services) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=services.config.rpc.max_body_bytes)
    app[SERVICES] = services
    for method, path, handler, _ in ROUTES + STANDARD_ROUTES:
        app.router.add_route(method, path, handler)
    app.router.add_get("/v1/openapi.json", _openapi)
    return app
