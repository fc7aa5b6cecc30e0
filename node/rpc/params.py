"""Parsing path and query parameters, each with a 400 that says what was expected.

Every number, date and cursor a handler reads from a URL is parsed here, so that each is
bounded once: a number is ASCII digits only (``str.isdigit`` also accepts "²", which
``int`` refuses) and no larger than the storage key it becomes can hold.
"""

from __future__ import annotations

from datetime import date

from aiohttp import web

from protocol.cid import cid_from_str
from protocol.errors import InvalidCID, InvalidKey
from protocol.keys import public_key_from_did
from protocol.royalties import day_of

from .errors import bad_request

MAX_PAGE = 1000
MAX_HEIGHT = 2**63 - 1
"""Heights are stored as unsigned 64-bit keys; a signed bound keeps them valid JSON int64 too."""
MAX_INDEX = 2**32 - 1
"""An event's index in its block is stored as an unsigned 32-bit key."""
MAX_WHOLE = 2**63 - 1
EPOCH = date(1970, 1, 1)
LAST_DAY = (date.max - EPOCH).days
"""9999-12-31: the last day a date can name."""
_MAX_DIGITS = 20


def whole_number(text: str, what: str, *, low: int = 0, high: int = MAX_WHOLE) -> int:
    """``text`` as an integer from ``low`` to ``high``, written in ASCII digits."""
    if not (0 < len(text) <= _MAX_DIGITS and text.isascii() and text.isdigit()):
        raise bad_request(f"{what} must be a whole number from {low} to {high}, not {text[:40]!r}")
    value = int(text)
    if not low <= value <= high:
        raise bad_request(f"{what} must be a whole number from {low} to {high}, not {value}")
    return value


def is_number(text: str) -> bool:
    """Whether ``text`` is meant as a number (ASCII digits), so that a handler can tell a height from a name."""
    return text.isascii() and text.isdigit()


def height_param(text: str, what: str = "height", *, low: int = 0) -> int:
    return whole_number(text, what, low=low, high=MAX_HEIGHT)


def optional_whole(request: web.Request, name: str, *, high: int = MAX_WHOLE) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    return whole_number(raw, name, high=high)


def hex_id(text: str, what: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 32:
        raise bad_request(f"{what} must be 64 hex characters, not {text[:80]!r}")
    return value


def cid_param(text: str) -> str:
    try:
        cid_from_str(text)
    except InvalidCID as exc:
        raise bad_request(f"{text[:120]!r} is not a valid asset id (a CIDv1): {exc.message}") from None
    return text


def did_param(text: str) -> str:
    try:
        public_key_from_did(text)
    except InvalidKey as exc:
        raise bad_request(exc.message) from None
    return text


def limit_param(request: web.Request, default: int = 100) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return default
    return whole_number(raw, "limit", low=1, high=MAX_PAGE)


def cursor_param(request: web.Request) -> tuple[int, int] | None:
    """``after=HEIGHT:INDEX``, as returned in a page's ``next``."""
    raw = request.query.get("after")
    if raw is None:
        return None
    height, _, index = raw.partition(":")
    if not (is_number(height) and is_number(index)):
        raise bad_request("after must be HEIGHT:INDEX, as given in a previous page's next")
    return height_param(height, "the height in after"), whole_number(index, "the index in after", high=MAX_INDEX)


def hex_cursor_param(request: web.Request) -> bytes | None:
    """``after=HEX``, the opaque cursor a previous page gave as its ``next``."""
    raw = request.query.get("after")
    if not raw:
        return None
    try:
        return bytes.fromhex(raw)
    except ValueError:
        raise bad_request("after must be the hex cursor given as a previous page's next") from None


def day_param(request: web.Request, name: str, default: int) -> int:
    """A UTC day number from a date (YYYY-MM-DD) or a millisecond timestamp, at most 9999-12-31."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if is_number(raw):
        # Any timestamp of this many digits is long past 9999 (parsing it whole would let
        # a client make the node convert thousands of digits).
        return LAST_DAY if len(raw) > _MAX_DIGITS else min(day_of(int(raw)), LAST_DAY)
    try:
        return min((date.fromisoformat(raw) - EPOCH).days, LAST_DAY)
    except ValueError:
        raise bad_request(f"{name} must be a date (YYYY-MM-DD) or milliseconds since 1970, not {raw[:40]!r}") from None


def flag_param(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "false").lower()
    if raw not in ("1", "0", "true", "false", "yes", "no"):
        raise bad_request(f"{name} must be true or false")
    return raw in ("1", "true", "yes")
