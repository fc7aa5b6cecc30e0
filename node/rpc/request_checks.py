"""Checks on a request before a handler reads it: its body's type and size, its client's address."""

from __future__ import annotations

from aiohttp import web

from .errors import ApiError

MSGPACK_TYPES = ("application/msgpack", "application/x-msgpack", "application/vnd.msgpack")
LOOPBACK_ADDRESSES = ("127.0.0.1", "::1")


def check_body(request: web.Request, *, types: tuple[str, ...], hint: str, max_bytes: int | None = None, limit_message: str = "") -> None:
    """Refuse a body of another type than ``types`` (415, ``hint`` says what to send) or one declared larger than ``max_bytes`` (413).

    A type ending in ``/*`` accepts every subtype. The size is judged on the declared
    Content-Length, so a body too large is refused before a byte of it is read.
    """
    if not any(_type_matches(request.content_type, accepted) for accepted in types):
        raise ApiError(415, "unsupported_media_type", hint)
    if max_bytes is not None and request.content_length is not None and request.content_length > max_bytes:
        raise ApiError(413, "too_large", limit_message or f"the body may have at most {max_bytes} bytes")


def require_loopback(request: web.Request) -> None:
    """Refuse (403) a client that is not on this machine: operator switches are for the operator."""
    if request.remote not in LOOPBACK_ADDRESSES:
        raise ApiError(403, "forbidden", "admin endpoints answer loopback clients only")


def _type_matches(content_type: str, accepted: str) -> bool:
    if accepted.endswith("/*"):
        return content_type.startswith(accepted[:-1])
    return content_type == accepted
