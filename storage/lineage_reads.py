"""Lineage queries over the indexes of protocol/lineage.py.

- a model's chain of base models (each registered before the model built on it, so the
  chain has no cycle; it is followed up to ``MAX_DEPTH`` models);
- the people behind a chain: the per-model holder counts, summed (no asset is read);
- the training assets of a chain, a page at a time, in chain then manifest order;
- the models trained on an asset, and the models built on those (breadth first);
- the apps using a model, and the apps using works of a creator.

Walks that fan out stop after ``budget`` index reads and say so (``complete``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from protocol.catalog import HELD_ASSETS
from protocol.encoding import decode_stored
from protocol.lineage import (
    APPS_OF_MODEL,
    DERIVED,
    MANIFEST,
    PEOPLE,
    TRAINED_ON,
    AppRecord,
    ModelRecord,
    get_app,
    get_model,
)

from .state_scan import StateScan

MAX_DEPTH = 64
ID = 32


def model_chain(scan: StateScan, model_id: bytes) -> list[tuple[bytes, ModelRecord]]:
    """The model, then its base, its base's base … (at most MAX_DEPTH)."""
    chain: list[tuple[bytes, ModelRecord]] = []
    current: bytes | None = model_id
    while current is not None and len(chain) < MAX_DEPTH:
        record = get_model(scan, current)
        if record is None:
            break
        chain.append((current, record))
        current = record.base_model
    return chain


def people_of(scan: StateScan, model_ids: list[bytes]) -> dict[str, int]:
    """Per rights holder, how many training assets of these models they hold rights in."""
    people: dict[str, int] = {}
    for model_id in dict.fromkeys(model_ids):
        for suffix, value in scan.items(PEOPLE + model_id):
            did = suffix.decode()
            people[did] = people.get(did, 0) + decode_stored(value)
    return people


@dataclass(frozen=True)
class ManifestItem:
    model: bytes
    asset: str
    position: int
    license: bytes | None


def manifest_page(
    scan: StateScan, model_ids: list[bytes], after: tuple[bytes, str] | None, limit: int
) -> tuple[list[ManifestItem], tuple[bytes, str] | None]:
    """Up to ``limit`` training assets over ``model_ids`` in order, after the (model, asset) cursor."""
    items: list[ManifestItem] = []
    start = 0 if after is None else model_ids.index(after[0])
    for model_id in model_ids[start:]:
        resume = after[1].encode() if after is not None and model_id == after[0] else None
        for suffix, value in scan.items(MANIFEST + model_id, after=resume):
            position, license_id = decode_stored(value)
            items.append(ManifestItem(model_id, suffix.decode(), position, license_id))
            if len(items) >= limit:
                return items, (model_id, items[-1].asset)
    return items, None


def apps_of(scan: StateScan, model_id: bytes, limit: int) -> list[tuple[bytes, AppRecord]]:
    found = []
    for suffix in scan.suffixes(APPS_OF_MODEL + model_id):
        record = get_app(scan, suffix)
        if record is not None:
            found.append((suffix, record))
        if len(found) >= limit:
            break
    return found


def models_trained_on(scan: StateScan, cid: str, budget: int) -> tuple[list[tuple[bytes, ModelRecord, bytes | None]], bool]:
    """(model, record, via) for models trained on ``cid`` (via None) or built on one (via its base)."""
    found: list[tuple[bytes, ModelRecord, bytes | None]] = []
    queue: deque[tuple[bytes, bytes | None]] = deque(
        (suffix, None) for suffix in scan.suffixes(TRAINED_ON + cid.encode() + b"\x00")
    )
    seen: set[bytes] = set()
    reads = 0
    while queue:
        model_id, via = queue.popleft()
        if model_id in seen:
            continue
        seen.add(model_id)
        reads += 1
        if reads > budget:
            return found, False
        record = get_model(scan, model_id)
        if record is None:
            continue
        found.append((model_id, record, via))
        queue.extend((derived, model_id) for derived in scan.suffixes(DERIVED + model_id))
    return found, True


def apps_using_works_of(scan: StateScan, did: str, budget: int) -> tuple[list[tuple[bytes, AppRecord, bytes, str]], bool]:
    """(app, record, model, asset): apps using a model trained, directly or through bases, on the creator's assets."""
    found: dict[bytes, tuple[bytes, AppRecord, bytes, str]] = {}
    reads = 0
    for suffix in scan.suffixes(HELD_ASSETS + did.encode() + b"\x00"):
        cid = suffix.decode()
        models, complete = models_trained_on(scan, cid, budget - reads)
        reads += len(models) + 1
        for model_id, _, _ in models:
            for app_id, record in apps_of(scan, model_id, budget):
                found.setdefault(app_id, (app_id, record, model_id, cid))
                reads += 1
        if not complete or reads > budget:
            return list(found.values()), False
    return list(found.values()), True
