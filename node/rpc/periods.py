"""Periods of the statements: whole UTC days of block time.

``from`` and ``to`` are dates (YYYY-MM-DD) or millisecond timestamps, both inclusive;
the default is everything up to today.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiohttp import web

from protocol.royalties import day_of

from .context import services_of
from .errors import bad_request

EPOCH = date(1970, 1, 1)
LAST_DAY = 2**32 - 2


def _day_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if raw.isdigit():
        return min(day_of(int(raw)), LAST_DAY)
    try:
        return min((date.fromisoformat(raw) - EPOCH).days, LAST_DAY)
    except ValueError:
        raise bad_request(f"{name} must be a date (YYYY-MM-DD) or milliseconds since 1970, not {raw!r}") from None


def period_param(request: web.Request) -> tuple[int, int]:
    services = services_of(request)
    today = day_of(max(services.clock(), services.ledger.head.ts))
    first, last = _day_param(request, "from", 0), _day_param(request, "to", today)
    if first > last:
        raise bad_request("from must not be after to")
    return max(first, 0), last


def day_text(day: int) -> str:
    return (EPOCH + timedelta(days=day)).isoformat()


def period_view(first: int, last: int) -> dict[str, Any]:
    return {"from": day_text(first), "to": day_text(last)}
