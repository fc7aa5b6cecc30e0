"""The one place handlers get the node's parts from."""

from __future__ import annotations

from aiohttp import web

from ..services import Services

SERVICES = web.AppKey("services", Services)


def services_of(request: web.Request) -> Services:
    return request.app[SERVICES]
