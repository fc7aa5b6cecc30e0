"""A small world for the market rules: a dict state, genesis credits, and people who send events."""

from __future__ import annotations

import copy
from typing import Iterable

import pytest

from protocol.errors import Rejected
from protocol.events import (
    AssetRegister,
    Body,
    Event,
    ManifestEntry,
    Media,
    ModelRegister,
    ParticipantRegister,
    Share,
    manifest_leaf,
    sign_event,
)
from protocol.genesis import Genesis
from protocol.keys import SigningKey
from protocol.merkle import merkle_root
from protocol.records import BlockContext, StateOverlay, Touched
from protocol.state import apply_event, genesis_writes
from protocol.terms import Terms

from .factories import TS, cid, key

ALICE, BOB, CAROL, DAVE, ERIN = key(11), key(12), key(13), key(14), key(15)
"""Alice creates, Bob contributes, Carol develops models, Dave apps, Erin only consumes."""
ROLES = {
    ALICE: ("creator",),
    BOB: ("contributor",),
    CAROL: ("model_developer", "consumer"),
    DAVE: ("app_developer", "consumer"),
    ERIN: ("consumer",),
}
CREDITS = {CAROL.did: 1_000, DAVE.did: 500, ERIN.did: 37}


class World:
    """Applies events one by one on a dict, as blocks would; ``refuse`` checks a rejection changed nothing."""

    def __init__(self, allocations: dict[str, int] | None = None, *, register: bool = True) -> None:
        allocations = CREDITS if allocations is None else allocations
        self.genesis = Genesis("market-test", TS, (key(99).did,), 1000, tuple(sorted(allocations.items())))
        self.data: dict[bytes, bytes] = {k: v for k, v in genesis_writes(self.genesis).items() if v is not None}
        self.height, self.ts = 1, TS + 1000
        self.nonces: dict[str, int] = {}
        self.touched: list[Touched] = []
        self.log: list[tuple[BlockContext, Event]] = []
        """Every accepted event with the context it was applied under."""
        if register:
            for person, roles in ROLES.items():
                self.send(person, _participant(person, roles))

    @property
    def context(self) -> BlockContext:
        return BlockContext(self.height, self.ts)

    def get(self, key_: bytes) -> bytes | None:
        return self.data.get(key_)

    def sign(self, signer: SigningKey, body: Body) -> Event:
        return sign_event(signer, body, self.nonces.get(signer.did, 0) + 1, self.ts)

    def send(self, signer: SigningKey, body: Body) -> Event:
        item = self.sign(signer, body)
        overlay = StateOverlay(self)
        self.touched.append(apply_event(overlay, item, self.context))
        for k, v in overlay.writes.items():
            if v is None:
                self.data.pop(k, None)
            else:
                self.data[k] = v
        self.nonces[signer.did] = item.nonce
        self.log.append((self.context, item))
        return item

    def attempt(self, signer: SigningKey, body: Body) -> Event | None:
        """Send ``body`` if the rules accept it; a rejection must leave the state as it was."""
        before = dict(self.data)
        try:
            return self.send(signer, body)
        except Rejected:
            assert self.data == before, f"a rejected {body.KIND} changed the state"
            return None

    def refuse(self, signer: SigningKey, body: Body, *fragments: str) -> str:
        item = self.sign(signer, body)
        before = copy.deepcopy(self.data)
        overlay = StateOverlay(self)
        with pytest.raises(Rejected) as caught:
            apply_event(overlay, item, self.context)
        for fragment in fragments:
            assert fragment in caught.value.message, f"{fragment!r} not in {caught.value.message!r}"
        assert self.data == before
        return caught.value.message

    def advance(self, blocks: int = 1, ms: int | None = None) -> None:
        self.height += blocks
        self.ts += blocks * 1000 if ms is None else ms

    def keys(self, prefix: bytes) -> list[bytes]:
        return sorted(k for k in self.data if k.startswith(prefix))


def _participant(person: SigningKey, roles: tuple[str, ...]) -> Body:
    return ParticipantRegister(name=f"person {person.did[-4:]}", roles=roles)


def asset(
    tag: str,
    holders: Iterable[tuple[SigningKey, int]] = ((ALICE, 10_000),),
    *,
    terms: Terms | None = None,
    title: str = "Night Drive",
    description: str = "An original synthwave track.",
    genre: str = "synthwave",
    tags: tuple[str, ...] = ("synth", "night"),
    asset_type: str = "track",
    duration_ms: int = 215_000,
    isrc: str = "",
) -> AssetRegister:
    return AssetRegister(
        cid=cid(tag),
        size=1_000,
        media=Media("wav", duration_ms, 44_100, 2),
        title=title,
        description=description,
        asset_type=asset_type,
        genre=genre,
        tags=tags,
        isrc=isrc,
        iswc="",
        rights_holders=tuple(Share(holder.did, bps) for holder, bps in holders),
        parents=(),
        terms=terms or Terms.make(),
        sealed_cid=cid(f"{tag}-sealed"),
    )


def model(entries: Iterable[tuple[str, bytes | None]], *, base: bytes | None = None, name: str = "tune-gen", sort: bool = True) -> ModelRegister:
    manifest = tuple(ManifestEntry(asset_id, license_id) for asset_id, license_id in entries)
    if sort:
        manifest = tuple(sorted(manifest, key=lambda entry: entry.asset))
    root = merkle_root([manifest_leaf(entry) for entry in manifest])
    return ModelRegister(name=name, version="1.0", base_model=base, manifest=manifest, manifest_root=root)
