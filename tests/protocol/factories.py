"""Shared builders for the protocol tests: fixed keys, CIDs and one valid body per kind."""

from __future__ import annotations

from typing import Any

from protocol.cid import DAG_PB, RAW, cid_to_str, make_cid
from protocol.encoding import encode
from protocol.events import (
    Access,
    AppRegister,
    AssetRegister,
    AssetReshare,
    AssetTerms,
    AssetWithdraw,
    AuthorityVote,
    Body,
    LicenseGrant,
    LicensePurchase,
    LicenseRevoke,
    ManifestEntry,
    Media,
    ModelRegister,
    ModelTermsSet,
    Parent,
    ParticipantRegister,
    Share,
    UsageRecord,
    manifest_leaf,
)
from protocol.key_custody import Custody, build_custody
from protocol.keys import Domain, SigningKey
from protocol.merkle import merkle_root
from protocol.model_terms import ALLOWED as USE_ALLOWED, PER_USE, ModelTerms
from protocol.terms import ALLOWED, PURCHASE, Terms

TS = 1_700_000_000_000


def key(n: int) -> SigningKey:
    """A fixed test key, different for every ``n``."""
    return SigningKey(bytes([n]) * 32)


ALICE = key(1)
BOB = key(2)
CAROL = key(3)


def cid(tag: str, codec: int = RAW) -> str:
    return cid_to_str(make_cid(codec, tag.encode()))


def digest(tag: str) -> bytes:
    import hashlib

    return hashlib.sha256(tag.encode()).digest()


def media() -> Media:
    return Media(format="flac", duration_ms=215_000, sample_rate=48_000, channels=2)


def terms() -> Terms:
    return Terms.make({"ai_training": (PURCHASE, 500), "data_mining": (ALLOWED, 0)}, commercial=True)


def asset_register(
    holders: tuple[tuple[str, int], ...] | None = None,
    *,
    tag: str = "track-1",
    parents: tuple[Parent, ...] = (),
    asset_type: str = "track",
    with_media: bool = True,
) -> AssetRegister:
    holders = holders if holders is not None else ((ALICE.did, 10_000),)
    return AssetRegister(
        cid=cid(tag, DAG_PB),
        size=1_234_567,
        media=media() if with_media else None,
        title="Night Drive",
        description="An original synthwave track.",
        asset_type=asset_type,
        genre="synthwave",
        tags=("synth", "night"),
        isrc="USRC17607839",
        iswc="T0345246801",
        rights_holders=tuple(Share(account, bps) for account, bps in holders),
        parents=parents,
        terms=terms(),
        sealed_cid=cid(f"{tag}-sealed", DAG_PB),
    )


def custody(authorities: tuple[str, ...], holders: tuple[str, ...], *, key: bytes = b"\x07" * 32, tag: str = "track-1") -> Custody:
    return build_custody(key, cid(tag, DAG_PB), authorities, holders)


def model_register(entries: tuple[ManifestEntry, ...] | None = None) -> ModelRegister:
    if entries is None:
        entries = (ManifestEntry(cid("track-1"), digest("license-1")), ManifestEntry(cid("track-2"), None))
    root = merkle_root([manifest_leaf(entry) for entry in entries])
    return ModelRegister(name="tune-gen", version="1.0", base_model=digest("base"), manifest=entries, manifest_root=root)


def valid_bodies() -> dict[str, Body]:
    """One valid body of every kind, keyed by kind."""
    bodies: list[Body] = [
        ParticipantRegister(name="Alice", roles=("creator", "contributor")),
        asset_register(((ALICE.did, 7_000), (BOB.did, 3_000)), parents=(Parent(cid("original"), "remix_of"),)),
        AssetTerms(asset=cid("track-1"), terms=terms()),
        AssetWithdraw(asset=cid("track-1"), reason="rights dispute"),
        AssetReshare(asset=cid("track-1"), custody=custody((ALICE.did, BOB.did, CAROL.did), (ALICE.did,))),
        LicenseGrant(asset=cid("track-1"), grantee=BOB.did, purposes=("ai_training", "data_mining"), expires=TS + 1, max_accesses=10),
        LicenseRevoke(license=digest("license-1")),
        LicensePurchase(asset=cid("track-1"), purposes=("ai_training",), max_price=500),
        Access(asset=cid("track-1"), purpose="ai_training", model=digest("model"), app=None, node="12D3KooWPeer", bytes=4096, max_price=25),
        model_register(),
        AppRegister(name="radio", version="2.1", models=(digest("model"),)),
        ModelTermsSet(
            model=digest("model"),
            terms=ModelTerms.make({"ai_inference": (PER_USE, 2), "data_mining": (USE_ALLOWED, 0)}, training_share_bps=3_000),
        ),
        UsageRecord(model=digest("model"), app=None, purpose="ai_inference", count=10_000, period_start=TS - 5, period_end=TS, max_price=20_000),
        AuthorityVote(candidate=CAROL.did, add=True),
    ]
    return {body.KIND: body for body in bodies}


def signed_raw(
    signer: SigningKey,
    kind: str,
    body: Any,
    *,
    nonce: int = 1,
    ts: int = TS,
    v: int = 1,
    author: str | None = None,
    extra: dict[str, Any] | None = None,
    drop: str | None = None,
) -> bytes:
    """Encode an envelope from raw wire parts and sign it, so a test can break one rule only."""
    wire: dict[str, Any] = {"v": v, "kind": kind, "author": author or signer.did, "nonce": nonce, "ts": ts, "body": body}
    wire.update(extra or {})
    if drop is not None:
        del wire[drop]
    wire["sig"] = signer.sign(Domain.EVENT, encode(wire))
    return encode(wire)
