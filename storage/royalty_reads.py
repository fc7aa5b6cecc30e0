"""Royalty statements and usage over time, read from the counters of protocol/royalties.py.

A statement for a holder and a period is one range scan over ``ix/ry/<holder>``
between the period's first and last UTC day; rows are summed per asset. Usage of an
asset is one range scan over ``ix/us/<asset>``. Nothing is recounted from events.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol.royalties import Counters, day_bytes, decode_counters, parse_royalty_suffix, royalty_prefix, usage_prefix

from .state_scan import StateScan


@dataclass(frozen=True)
class Statement:
    rows: dict[str, Counters]
    """Per asset, in the order first seen."""
    totals: Counters


def royalty_statement(scan: StateScan, did: str, first_day: int, last_day: int) -> Statement:
    rows: dict[str, Counters] = {}
    totals = Counters()
    start, until = day_bytes(max(first_day, 0)), day_bytes(last_day + 1)
    for suffix, value in scan.items(royalty_prefix(did), start=start, until=until):
        _, cid = parse_royalty_suffix(suffix)
        counters = decode_counters(value)
        rows.setdefault(cid, Counters()).add(counters)
        totals.add(counters)
    return Statement(rows, totals)


def asset_usage(scan: StateScan, cid: str, first_day: int, last_day: int) -> list[tuple[int, Counters]]:
    days = []
    for suffix, value in scan.items(usage_prefix(cid), start=day_bytes(max(first_day, 0)), until=day_bytes(last_day + 1)):
        days.append((int.from_bytes(suffix, "big"), decode_counters(value)))
    return days
