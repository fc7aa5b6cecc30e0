"""Periods of the statements: whole UTC days of block time.

``from`` and ``to`` are dates (YYYY-MM-DD) or millisecond timestamps, both inclusive;
the default is everything up to today.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from protocol.royalties import day_of

from . import params
from .context import services_of
from .errors import bad_request


def period_param(request: web.Request) -> tuple[int, int]:
    services = services_of(request)
    today = day_of(max(services.clock(), services.ledger.head.ts))
    first, last = params.day_param(request, "from", 0), params.day_param(request, "to", today)
    if first > last:
        raise bad_request("from must not be after to")
    return max(first, 0), last


def day_text(day: int) -> str:
    return (params.EPOCH + timedelta(days=day)).isoformat()


def period_view(first: int, last: int) -> dict[str, Any]:
    return {"from": day_text(first), "to": day_text(last)}
