"""RPC errors: every failure leaves as ``{"error": {"code", "message"}}`` with the right status.

Each error type declares its own status and code (``ProtocolError`` and its subclasses,
``StorageError``, ``ApiError``); this module only turns them into responses.
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable

from aiohttp import web

from protocol.errors import ProtocolError
from storage.errors import StorageError

log = logging.getLogger("audiera.rpc")


class ApiError(Exception):
    """A refusal raised by an RPC handler itself, with its status and code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} was not found")


def bad_request(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message)
    except ProtocolError as exc:
        return error_response(exc.status, exc.code, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        if exc.status in (404, 405):
            message = f"no endpoint {request.method} {request.path}; the API is described at /v1/openapi.json"
        else:
            message = exc.text or exc.reason
        return error_response(exc.status, code, message)
    except StorageError as exc:
        log.exception("storage error serving %s", request.path)
        return error_response(exc.status, exc.code, exc.message)
