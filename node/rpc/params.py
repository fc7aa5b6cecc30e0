"""Parsing path and query parameters, each with a 400 that says what was expected."""

from __future__ import annotations

from aiohttp import web

from protocol.cid import cid_from_str
from protocol.errors import InvalidCID, InvalidKey
from protocol.keys import public_key_from_did

from .errors import bad_request

MAX_PAGE = 1000


def hex_id(text: str, what: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 32:
        raise bad_request(f"{what} must be 64 hex characters, not {text!r}")
    return value


def cid_param(text: str) -> str:
    try:
        cid_from_str(text)
    except InvalidCID as exc:
        raise bad_request(f"{text!r} is not a valid asset id (a CIDv1): {exc.message}") from None
    return text


def did_param(text: str) -> str:
    try:
        public_key_from_did(text)
    except InvalidKey as exc:
        raise bad_request(exc.message) from None
    return text


def limit_param(request: web.Request, default: int = 100) -> int:
    raw = request.query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise bad_request(f"limit must be a whole number from 1 to {MAX_PAGE}")
    return int(raw)


def cursor_param(request: web.Request) -> tuple[int, int] | None:
    """``after=HEIGHT:INDEX``, as returned in a page's ``next``."""
    raw = request.query.get("after")
    if raw is None:
        return None
    height, _, index = raw.partition(":")
    if not (height.isdigit() and index.isdigit()):
        raise bad_request("after must be HEIGHT:INDEX, as given in a previous page's next")
    return int(height), int(index)


def flag_param(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "false").lower()
    if raw not in ("1", "0", "true", "false", "yes", "no"):
        raise bad_request(f"{name} must be true or false")
    return raw in ("1", "true", "yes")
