"""Models and apps: what they were built from, as rules and as indexes.

A model's id, and an app's, is the id of the event that registered it. A model's
training manifest must list its assets in ascending order of asset id (CID text), so
that a proof of two adjacent leaves shows an asset is absent (protocol/manifest_proofs.py);
every asset in it must be licensed to the author for training at that height: a license
in force held by the author that covers ``ai_training`` or ``ai_generative_training``, or
(with no license named) terms that allow training freely, pay-per-access training terms
under which the author has accessed the asset, or the author being a rights holder.

Index keys written here (all under ``ix/``, never read by other rules):

- ``ix/ma/<model><cid>`` → [position in the manifest, license]: the manifest, by asset;
- ``ix/to/<cid> 0x00 <model>``: the models trained on an asset;
- ``ix/mh/<model><did>`` → how many of the model's assets the account holds rights in;
- ``ix/bm/<base><model>``: models built on a base model;
- ``ix/ap/<model><app>``: apps using a model;
- ``ix/om/<did> 0x00 <model>`` and ``ix/oa/<did> 0x00 <app>``: by author.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .encoding import decode_stored, encode
from .errors import Rejected
from .events import AppRegister, Event, ManifestEntry, ModelRegister
from .licenses import get_license, purpose_terms, terms_expired
from .records import (
    ACTIVE,
    AssetRecord,
    BlockContext,
    StateOverlay,
    StateView,
    Touched,
    get_asset,
    require_role,
)
from .royalties import get_consumer_uses
from .terms import TRAINING_PURPOSES

MANIFEST = b"ix/ma/"
TRAINED_ON = b"ix/to/"
PEOPLE = b"ix/mh/"
DERIVED = b"ix/bm/"
APPS_OF_MODEL = b"ix/ap/"
MODELS_BY = b"ix/om/"
APPS_BY = b"ix/oa/"


@dataclass
class ModelRecord:
    name: str
    version: str
    base_model: bytes | None
    author: str
    registered_at: int
    manifest_root: bytes
    manifest_size: int

    def to_wire(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class AppRecord:
    name: str
    version: str
    models: list[bytes]
    author: str
    registered_at: int

    def to_wire(self) -> dict[str, Any]:
        return dict(self.__dict__)


def model_key(model_id: bytes) -> bytes:
    return b"model/" + model_id


def app_key(app_id: bytes) -> bytes:
    return b"app/" + app_id


def get_model(state: StateView, model_id: bytes) -> ModelRecord | None:
    raw = state.get(model_key(model_id))
    return None if raw is None else ModelRecord(**decode_stored(raw))


def get_app(state: StateView, app_id: bytes) -> AppRecord | None:
    raw = state.get(app_key(app_id))
    return None if raw is None else AppRecord(**decode_stored(raw))


def training_key(model_id: bytes) -> bytes:
    """The model's training assets in manifest order: read by the rule that pays them for its use."""
    return b"mtrain/" + model_id


def get_training_assets(state: StateView, model_id: bytes) -> list[str]:
    raw = state.get(training_key(model_id))
    return [] if raw is None else list(decode_stored(raw))


def trained_on_key(cid: str, model_id: bytes) -> bytes:
    return TRAINED_ON + cid.encode() + b"\x00" + model_id


def training_problem(state: StateView, asset: AssetRecord, author: str, license_id: bytes | None, ts: int) -> str | None:
    """Why ``asset`` is not licensed to ``author`` for training at ``ts``, or None if it is."""
    if asset.status != ACTIVE:
        return "it is withdrawn"
    if license_id is not None:
        name = f"license {license_id.hex()}"
        record = get_license(state, license_id)
        if record is None:
            return f"{name} does not exist"
        if record.asset != asset.cid:
            return f"{name} is for asset {record.asset}"
        if record.grantee != author:
            return f"{name} was issued to {record.grantee}"
        if record.revoked_at:
            return f"{name} was revoked at block {record.revoked_at}"
        if record.is_expired(ts):
            return f"{name} expired at {record.expires}"
        if not set(record.purposes) & set(TRAINING_PURPOSES):
            return f"{name} covers only {', '.join(record.purposes)}, not training"
        return None
    if author in asset.holders:
        return None
    expired = terms_expired(asset, ts)
    uses = get_consumer_uses(state, asset.cid, author)
    for purpose in TRAINING_PURPOSES:
        mode, _ = purpose_terms(asset, purpose)
        if not expired and mode == "allowed":
            return None
        if not expired and mode == "per_access" and uses.get(purpose, 0) > 0:
            return None
    said = ", ".join(f"{p} {purpose_terms(asset, p)[0]}" for p in TRAINING_PURPOSES)
    return f"no license is named and the terms do not allow training freely ({said}{', expired' if expired else ''})"


def _check_manifest_order(manifest: tuple[ManifestEntry, ...]) -> None:
    for before, after in zip(manifest, manifest[1:]):
        if before.asset >= after.asset:
            raise Rejected(
                "the manifest must list its assets in ascending order of asset id (so that absence can be proven): "
                f"{before.asset} comes before {after.asset}"
            )


def apply_model_register(state: StateOverlay, event: Event, body: ModelRegister, context: BlockContext) -> Touched:
    author = event.author
    require_role(state, author, ("model_developer",), "registering a model")
    base = None
    if body.base_model is not None:
        base = get_model(state, body.base_model)
        if base is None:
            raise Rejected(f"base model {body.base_model.hex()} is not registered")
    _check_manifest_order(body.manifest)
    people: dict[str, int] = {}
    for position, entry in enumerate(body.manifest):
        asset = get_asset(state, entry.asset)
        if asset is None:
            raise Rejected(f"asset {entry.asset} in the manifest is not registered")
        problem = training_problem(state, asset, author, entry.license, context.ts)
        if problem is not None:
            raise Rejected(f"asset {entry.asset} is not licensed to {author} for training: {problem}")
        for holder in asset.holders:
            people[holder] = people.get(holder, 0) + 1
        state.put(MANIFEST + event.id + entry.asset.encode(), encode([position, entry.license]))
        state.put(trained_on_key(entry.asset, event.id), b"")
    for holder, count in people.items():
        state.put(PEOPLE + event.id + holder.encode(), encode(count))
    record = ModelRecord(
        name=body.name,
        version=body.version,
        base_model=body.base_model,
        author=author,
        registered_at=context.height,
        manifest_root=body.manifest_root,
        manifest_size=len(body.manifest),
    )
    state.put(model_key(event.id), encode(record.to_wire()))
    state.put(training_key(event.id), encode([entry.asset for entry in body.manifest]))
    state.put(MODELS_BY + author.encode() + b"\x00" + event.id, b"")
    if body.base_model is not None:
        state.put(DERIVED + body.base_model + event.id, b"")
    accounts = [*people, *([base.author] if base else [])]
    return Touched(assets=tuple(entry.asset for entry in body.manifest), accounts=tuple(dict.fromkeys(accounts)))


def apply_app_register(state: StateOverlay, event: Event, body: AppRegister, context: BlockContext) -> Touched:
    author = event.author
    require_role(state, author, ("app_developer",), "registering an app")
    authors = []
    for model_id in body.models:
        model = get_model(state, model_id)
        if model is None:
            raise Rejected(f"model {model_id.hex()} is not registered")
        authors.append(model.author)
        state.put(APPS_OF_MODEL + model_id + event.id, b"")
    record = AppRecord(name=body.name, version=body.version, models=list(body.models), author=author, registered_at=context.height)
    state.put(app_key(event.id), encode(record.to_wire()))
    state.put(APPS_BY + author.encode() + b"\x00" + event.id, b"")
    return Touched(accounts=tuple(dict.fromkeys(authors)))
