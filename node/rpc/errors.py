"""RPC errors: every failure leaves as ``{"error": {"code", "message"}}`` with the right status.

Each error type declares its own status and code (``ProtocolError`` and its subclasses,
``StorageError``, ``ApiError``); this module only turns them into responses.
"""

from __future__ import annotations

import logging
import secrets
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
        response = error_response(exc.status, code, message)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except StorageError as exc:
        if exc.status >= 500:
            log.exception("storage error serving %s", request.path)
        return error_response(exc.status, exc.code, exc.message)
    except Exception:
        # A bug, not bad input: the client gets JSON and an id to quote; the log has the
        # traceback under the same id, and nothing about the node's internals leaks out.
        incident = secrets.token_hex(8)
        log.exception("internal error %s serving %s %s", incident, request.method, request.path_qs[:200])
        return error_response(500, "internal", f"the node failed to handle this request; report id {incident}")
