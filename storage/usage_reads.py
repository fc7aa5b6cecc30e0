"""Paid model and app use, read from the counters of protocol/lineage_income.py.

Each query is one range scan over one key prefix between a period's first and last UTC
day (inclusive), summed per source; nothing is recounted from events:

- an account's lineage income per model and app (``ix/rl/<account>``);
- the models and apps that paid through an asset (``ix/ua/<asset>``);
- a model's or app's own use per day (``ix/mu/<source>``).
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol.lineage_income import (
    UseCounters,
    asset_paid_prefix,
    decode_use_counters,
    lineage_income_prefix,
    parse_day_source,
    source_usage_prefix,
)
from protocol.royalties import day_bytes

from .state_scan import StateScan


@dataclass(frozen=True)
class BySource:
    rows: dict[bytes, UseCounters]
    """Per source (``m`` or ``a`` + id), in key order of first appearance."""
    totals: UseCounters


def _by_source(scan: StateScan, prefix: bytes, first_day: int, last_day: int) -> BySource:
    rows: dict[bytes, UseCounters] = {}
    totals = UseCounters()
    for suffix, value in scan.items(prefix, start=day_bytes(max(first_day, 0)), until=day_bytes(last_day + 1)):
        _, source = parse_day_source(suffix)
        counters = decode_use_counters(value)
        rows.setdefault(source, UseCounters()).add(counters)
        totals.add(counters)
    return BySource(rows, totals)


def lineage_statement(scan: StateScan, did: str, first_day: int, last_day: int) -> BySource:
    """What ``did`` received from the use of each model and app in the period (as developer or down the lineage)."""
    return _by_source(scan, lineage_income_prefix(did), first_day, last_day)


def paid_through_asset(scan: StateScan, cid: str, first_day: int, last_day: int) -> BySource:
    """The models and apps whose use paid the rights holders of ``cid`` in the period, and how much."""
    return _by_source(scan, asset_paid_prefix(cid), first_day, last_day)


def source_usage(scan: StateScan, source: bytes, first_day: int, last_day: int) -> list[tuple[int, UseCounters]]:
    """Per day, the recorded use of a model or app and the credits it charged."""
    prefix = source_usage_prefix(source)
    days = []
    for suffix, value in scan.items(prefix, start=day_bytes(max(first_day, 0)), until=day_bytes(last_day + 1)):
        days.append((int.from_bytes(suffix, "big"), decode_use_counters(value)))
    return days
