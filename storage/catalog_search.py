"""Catalog search: intersect the posting lists of a query's filters, in sort order.

Every filter is a posting list of protocol/catalog.py (a word, the type, genre, tag,
creator, ISRC, ISWC), or the union of a few (a duration range: the bands it overlaps; a
purpose at most some price: its price classes up to that price), sorted by the requested
order. The lists are intersected by leapfrogging: each cursor seeks to the largest key
any other has reached, so the cost follows the rarest list, not the catalog's size.
What the bands and classes only approximate (the exact duration and price) and what
changes with time (terms that have expired) is checked on each intersection hit from
the asset's small facts record.

A page ends after ``limit`` hits, or when the work budget (``MAX_WORK`` seeks and fact
checks) is spent: then it is returned incomplete, with a cursor to continue from,
rather than scanning on.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol.catalog import (
    NEWEST,
    cid_of_sort_key,
    duration_bands,
    facts_key,
    fold,
    posting_prefix,
    price_classes,
    words,
)
from protocol.encoding import decode_stored
from protocol.records import AssetRecord, get_asset

from .state_scan import Cursor, StateScan

MAX_WORK = 10_000
"""Seeks plus fact checks one page may cost (each is a few microseconds)."""
MAX_WORDS_PER_QUERY = 8


@dataclass(frozen=True)
class CatalogQuery:
    text: str = ""
    asset_type: str | None = None
    genre: str | None = None
    tag: str | None = None
    creator: str | None = None
    isrc: str | None = None
    iswc: str | None = None
    purpose: str | None = None
    """Only assets whose terms in force allow this purpose (freely, per access or by purchase)."""
    max_price: int | None = None
    """With ``purpose``: at most this price (0: only free use)."""
    min_duration_ms: int | None = None
    max_duration_ms: int | None = None
    order: str = NEWEST
    after: bytes | None = None
    """Sort key of the last hit of the previous page."""
    limit: int = 20


@dataclass(frozen=True)
class SearchPage:
    assets: list[AssetRecord]
    next: bytes | None
    """Continue after this sort key; None when the results are exhausted."""
    complete: bool
    """False if the work budget ended the page before ``limit`` hits."""
    work: int


Filter = list[tuple[str, str]]
"""Alternatives: an asset passes if it is in any of these posting lists."""


def filters_of(query: CatalogQuery) -> list[Filter]:
    """The posting lists a query intersects (``all`` if it names none), each a union of alternatives."""
    filters: list[Filter] = [[("w", word)] for word in words(query.text)[:MAX_WORDS_PER_QUERY]]
    named = [
        ("type", query.asset_type),
        ("genre", fold(query.genre) if query.genre else None),
        ("tag", fold(query.tag) if query.tag else None),
        ("holder", query.creator),
        ("isrc", query.isrc),
        ("iswc", query.iswc),
    ]
    filters += [[(field, value)] for field, value in named if value]
    if query.purpose:
        filters.append([("use", f"{query.purpose}:{name}") for name in price_classes(query.max_price)])
    bands = duration_bands(query.min_duration_ms, query.max_duration_ms)
    if bands is not None:
        filters.append([("len", band) for band in bands])
    return filters or [[("all", "")]]


class _Union:
    """Several sorted posting lists read as one (their union), by seeking each."""

    def __init__(self, cursors: list[Cursor]) -> None:
        self._cursors = cursors

    @property
    def seeks(self) -> int:
        return sum(cursor.seeks for cursor in self._cursors)

    def seek(self, target: bytes) -> bytes | None:
        found = [key for key in (cursor.seek(target) for cursor in self._cursors) if key is not None]
        return min(found) if found else None


def _passes(facts: list | None, query: CatalogQuery, now: int) -> bool:
    if facts is None:
        return False
    duration, expires, purposes = facts
    if query.min_duration_ms is not None and not 0 <= query.min_duration_ms <= duration:
        return False
    if query.max_duration_ms is not None and not 0 <= duration <= query.max_duration_ms:
        return False
    if query.purpose is not None:
        if expires and now > expires:
            return False
        mode, price = purposes[query.purpose]
        if mode == "denied" or (query.max_price is not None and price > query.max_price):
            return False
    return True


def _cursor(scan: StateScan, alternatives: Filter, order: str) -> Cursor | _Union:
    cursors = [scan.cursor(posting_prefix(field, value, order)) for field, value in alternatives]
    return cursors[0] if len(cursors) == 1 else _Union(cursors)


def search_catalog(scan: StateScan, query: CatalogQuery, now: int) -> SearchPage:
    cursors = [_cursor(scan, alternatives, query.order) for alternatives in filters_of(query)]
    target = b"" if query.after is None else query.after + b"\x00"
    found: list[AssetRecord] = []
    checks = 0

    def work() -> int:
        return checks + sum(cursor.seeks for cursor in cursors)

    while True:
        agreed, position = 0, 0
        while agreed < len(cursors):
            if work() >= MAX_WORK:
                return SearchPage(found, _before(target), False, work())
            key = cursors[position].seek(target)
            if key is None:
                return SearchPage(found, None, True, work())
            if key == target:
                agreed += 1
            else:
                target, agreed = key, 1
            position = (position + 1) % len(cursors)
        cid = cid_of_sort_key(target, query.order)
        raw = scan.get(facts_key(cid))
        checks += 1
        if _passes(None if raw is None else decode_stored(raw), query, now):
            record = get_asset(scan, cid)
            assert record is not None, f"the catalog lists asset {cid}, which the state does not hold"
            found.append(record)
            if len(found) >= query.limit:
                return SearchPage(found, target, True, work())
        target += b"\x00"


def _before(target: bytes) -> bytes | None:
    """A cursor from which a search resumes at ``target`` itself (``after`` skips past it)."""
    if not target:
        return None
    if target.endswith(b"\x00"):
        return target[:-1]
    return target[:-1] + bytes([target[-1] - 1]) + b"\xff" * 64
