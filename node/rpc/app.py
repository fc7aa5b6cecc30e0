"""The RPC application: JSON over HTTP under /v1, loopback by default."""

from __future__ import annotations

from aiohttp import web

from ..services import Services
from .context import SERVICES
from .errors import error_middleware
from .openapi import openapi_document
from .feed_api import FEED_HUB
from .feed_hub import FeedHub
from .metrics import METRICS, RpcMetrics
from .routes import ROUTES


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


async def _end_feeds(app: web.Application) -> None:
    app[FEED_HUB].close_all("the node is shutting down")


def create_app(services: Services) -> web.Application:
    hub = FeedHub(services.ledger, services.config.rpc.feed_subscribers, services.config.rpc.feed_queue)
    metrics = RpcMetrics(services, hub)
    # Metrics outermost: they see the status the error middleware gave a refusal.
    app = web.Application(middlewares=[metrics.middleware, error_middleware], client_max_size=services.config.rpc.max_body_bytes)
    app[SERVICES] = services
    app[FEED_HUB] = hub
    app[METRICS] = metrics
    services.ledger.add_listener(hub.on_head_change)
    services.ledger.add_listener(metrics.on_head_change)
    services.ledger.add_finality_listener(hub.on_finality_change)
    app.on_shutdown.append(_end_feeds)
    for method, path, handler, _ in ROUTES:
        app.router.add_route(method, path, handler)
    app.router.add_get("/v1/openapi.json", _openapi)
    return app
