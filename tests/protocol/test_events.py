"""Signed events: every kind round-trips, and every validation rule names the field at fault."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from protocol import events as events_module
from protocol.encoding import decode, encode, sha256
from protocol.errors import DecodeError, InvalidEvent, InvalidSignature
from protocol.events import (
    AUDIO_ASSET_TYPES,
    BODY_TYPES,
    EVENT_VERSION,
    MAX_EVENT_BYTES,
    AssetRegister,
    Event,
    ManifestEntry,
    ModelRegister,
    decode_event,
    manifest_leaf,
    parse_event,
    sign_event,
)
from protocol.keys import Domain
from protocol.merkle import merkle_root

from .factories import ALICE, BOB, CAROL, TS, asset_register, cid, digest, model_register, signed_raw, valid_bodies

BODIES = valid_bodies()
KINDS = sorted(BODY_TYPES)


def body_wire(kind: str, **changes: Any) -> dict[str, Any]:
    wire = copy.deepcopy(BODIES[kind].to_wire())
    wire.update(changes)
    return wire


def raw_with(kind: str, body: Any, **envelope: Any) -> bytes:
    return signed_raw(ALICE, kind, body, **envelope)


def invalid(data: bytes, *fragments: str, error: type[Exception] = InvalidEvent) -> str:
    with pytest.raises(error) as exc:
        decode_event(data)
    message = str(exc.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# --- valid events --------------------------------------------------------------------


def test_every_kind_has_a_valid_example() -> None:
    assert set(BODIES) == set(BODY_TYPES)
    for kind, body in BODIES.items():
        assert type(body) is BODY_TYPES[kind] and body.KIND == kind


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip(kind: str) -> None:
    body = BODIES[kind]
    event = sign_event(ALICE, body, nonce=3, ts=TS)
    assert event.kind == kind and event.author == ALICE.did and event.v == EVENT_VERSION
    decoded = decode_event(event.raw)
    assert decoded == event
    assert decoded.id == event.id == sha256(event.raw)
    assert decoded.raw == event.raw
    assert decoded.body == body and type(decoded.body) is type(body)
    assert BODY_TYPES[kind].from_wire(body.to_wire()) == body


@pytest.mark.parametrize("kind", KINDS)
def test_decoded_event_reencodes_to_its_bytes(kind: str) -> None:
    # One event, one encoding: what was parsed writes back to exactly the bytes received.
    event = decode_event(sign_event(BOB, BODIES[kind], nonce=1, ts=0).raw)
    wire = event.unsigned_wire()
    wire["sig"] = event.sig
    assert encode(wire) == event.raw


@pytest.mark.parametrize("kind", KINDS)
def test_signature_covers_domain_and_unsigned_envelope(kind: str) -> None:
    event = sign_event(ALICE, BODIES[kind], nonce=1, ts=TS)
    assert event.sig == ALICE.sign(Domain.EVENT, encode(event.unsigned_wire()))
    event.verify()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("nonce, ts", [(1, 0), (127, TS), (2**32, 2**40), (2**64 - 1, 2**64 - 1)])
def test_signed_bytes_cut_from_raw_are_the_unsigned_encoding(
    kind: str, nonce: int, ts: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # verify() cuts the sig entry out of the canonical bytes instead of encoding again.
    event = sign_event(ALICE, BODIES[kind], nonce=nonce, ts=ts)
    decoded = decode_event(event.raw)
    expected = encode(event.unsigned_wire())

    def no_maps(value: Any) -> bytes:
        assert not isinstance(value, dict), "took the slow path"
        return encode(value)

    monkeypatch.setattr(events_module, "encode", no_maps)
    assert event._unsigned_bytes() == expected
    assert decoded._unsigned_bytes() == expected


def test_id_depends_on_every_envelope_field() -> None:
    body = BODIES["participant.register"]
    base = sign_event(ALICE, body, nonce=1, ts=TS)
    others = [sign_event(ALICE, body, nonce=2, ts=TS), sign_event(ALICE, body, nonce=1, ts=TS + 1), sign_event(BOB, body, nonce=1, ts=TS)]
    assert len({base.id, *(event.id for event in others)}) == 4


def test_parse_event_does_not_verify_but_decode_does() -> None:
    wire = decode(sign_event(ALICE, BODIES["asset.withdraw"], nonce=1, ts=TS).raw)
    wire["sig"] = bytes(64)
    assert parse_event(wire).sig == bytes(64)
    with pytest.raises(InvalidSignature):
        decode_event(encode(wire))


def test_nullable_fields_accept_nil() -> None:
    access = BODY_TYPES["access"].from_wire(body_wire("access", model=None, app=None))
    assert access.model is None and access.app is None  # type: ignore[attr-defined]
    model = model_register((ManifestEntry(cid("a"), None),))
    model = BODY_TYPES["model.register"].from_wire({**model.to_wire(), "base_model": None})
    assert model.base_model is None  # type: ignore[attr-defined]
    dataset = asset_register(asset_type="dataset", with_media=False)
    decoded = decode_event(sign_event(ALICE, dataset, nonce=1, ts=TS).raw)
    assert decoded.body.media is None  # type: ignore[attr-defined]


def test_empty_manifest_has_the_empty_root() -> None:
    body = model_register(())
    assert body.manifest_root == merkle_root([])
    assert decode_event(sign_event(ALICE, body, nonce=1, ts=TS).raw).body == body


def test_largest_manifest_fits_in_an_event() -> None:
    entries = tuple(ManifestEntry(cid(f"asset-{i}"), digest(f"license-{i}")) for i in range(1000))
    body = ModelRegister("m" * 64, "v" * 32, digest("base"), entries, merkle_root([manifest_leaf(e) for e in entries]))
    event = sign_event(ALICE, body, nonce=2**64 - 1, ts=2**64 - 1)
    assert len(event.raw) <= MAX_EVENT_BYTES
    assert decode_event(event.raw) == event


def test_manifest_leaf_is_hash_of_entry_encoding() -> None:
    entry = ManifestEntry(cid("a"), digest("l"))
    assert manifest_leaf(entry) == sha256(encode({"asset": cid("a"), "license": digest("l")}))


@pytest.mark.parametrize("asset_type", ["dataset", *AUDIO_ASSET_TYPES])
def test_asset_types_with_media(asset_type: str) -> None:
    body = asset_register(asset_type=asset_type)
    assert decode_event(sign_event(ALICE, body, nonce=1, ts=TS).raw).body == body


@pytest.mark.parametrize("isrc", ["", "USRC17607839", "GBAYE0601498", "QZ9AB2400001"])
def test_valid_isrc(isrc: str) -> None:
    AssetRegister.from_wire(body_wire("asset.register", isrc=isrc))


@pytest.mark.parametrize("iswc", ["", "T0345246801", "T9999999999"])
def test_valid_iswc(iswc: str) -> None:
    AssetRegister.from_wire(body_wire("asset.register", iswc=iswc))


# --- envelope rules ------------------------------------------------------------------


@pytest.mark.parametrize("field", ["v", "kind", "author", "nonce", "ts", "body"])
def test_invalid_missing_envelope_field(field: str) -> None:
    invalid(raw_with("asset.withdraw", body_wire("asset.withdraw"), drop=field), f"event.{field} is missing")


def test_invalid_missing_sig() -> None:
    wire = decode(raw_with("asset.withdraw", body_wire("asset.withdraw")))
    del wire["sig"]
    invalid(encode(wire), "event.sig is missing")


def test_invalid_unknown_envelope_field() -> None:
    invalid(raw_with("asset.withdraw", body_wire("asset.withdraw"), extra={"fee": 1}), "event has unknown field(s): fee")


def test_invalid_unknown_kind() -> None:
    message = invalid(raw_with("asset.delete", {}), "unknown event kind 'asset.delete'")
    assert "asset.register" in message  # the known kinds are listed


@pytest.mark.parametrize("kind, fragment", [(5, "event.kind must be text"), ("", "event.kind must have 1 to 64")])
def test_invalid_kind_type(kind: Any, fragment: str) -> None:
    invalid(raw_with("asset.withdraw", body_wire("asset.withdraw"), extra={"kind": kind}), fragment)


@pytest.mark.parametrize("version", [0, 2, 255])
def test_invalid_wrong_version(version: int) -> None:
    invalid(raw_with("asset.withdraw", body_wire("asset.withdraw"), v=version), f"event version {version} is not supported")


def test_invalid_version_type() -> None:
    invalid(raw_with("asset.withdraw", body_wire("asset.withdraw"), v="1"), "event.v must be an integer")


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("nonce", 0, "event.nonce must be between 1"),
        ("nonce", -1, "event.nonce must be between 1"),
        ("nonce", True, "event.nonce must be an integer"),
        ("ts", -1, "event.ts must be between 0"),
        ("ts", "now", "event.ts must be an integer"),
    ],
)
def test_invalid_envelope_int(field: str, value: Any, fragment: str) -> None:
    invalid(raw_with("asset.withdraw", body_wire("asset.withdraw"), **{field: value}), fragment)


@pytest.mark.parametrize(
    "author",
    ["alice", "did:web:example.com", "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2do0", 42],
)
def test_invalid_bad_author_did(author: Any) -> None:
    invalid(raw_with("asset.withdraw", body_wire("asset.withdraw"), author=author), "event.author")


@pytest.mark.parametrize("sig", [b"", b"\x00" * 63, b"\x00" * 65, "s" * 64, None])
def test_invalid_sig_shape(sig: Any) -> None:
    wire = decode(raw_with("asset.withdraw", body_wire("asset.withdraw")))
    wire["sig"] = sig
    invalid(encode(wire), "event.sig must be 64 bytes")


@pytest.mark.parametrize("body", [[], "x", None, 1])
def test_invalid_body_not_a_map(body: Any) -> None:
    invalid(raw_with("asset.withdraw", body), "asset.withdraw body must be a map")


def test_invalid_event_not_a_map() -> None:
    invalid(encode([1, 2]), "event must be a map")


def test_invalid_oversized_event() -> None:
    data = raw_with("asset.withdraw", body_wire("asset.withdraw", reason="x" * MAX_EVENT_BYTES))
    invalid(data, f"limit is {MAX_EVENT_BYTES}", "event is")


def test_invalid_oversized_event_with_lower_limit() -> None:
    data = sign_event(ALICE, BODIES["participant.register"], nonce=1, ts=TS).raw
    assert decode_event(data, max_bytes=len(data))
    with pytest.raises(InvalidEvent, match=f"limit is {len(data) - 1}"):
        decode_event(data, max_bytes=len(data) - 1)


def test_invalid_non_canonical_bytes() -> None:
    import msgpack

    wire = decode(sign_event(ALICE, BODIES["asset.withdraw"], nonce=1, ts=TS).raw)
    backwards = dict(reversed(list(wire.items())))
    with pytest.raises(DecodeError, match="not canonical"):
        decode_event(msgpack.packb(backwards, use_bin_type=True))


@pytest.mark.parametrize("kind", KINDS)
def test_invalid_bad_signature(kind: str) -> None:
    event = sign_event(ALICE, BODIES[kind], nonce=1, ts=TS)
    wire = decode(event.raw)
    wire["sig"] = bytes([wire["sig"][0] ^ 1]) + wire["sig"][1:]
    invalid(encode(wire), "signature does not verify", error=InvalidSignature)


def test_invalid_signature_over_other_domain() -> None:
    wire = {"v": 1, "kind": "asset.withdraw", "author": ALICE.did, "nonce": 1, "ts": TS, "body": body_wire("asset.withdraw")}
    wire["sig"] = ALICE.sign(Domain.HEADER, encode(wire))
    invalid(encode(wire), "signature does not verify", error=InvalidSignature)


def test_invalid_tampered_body() -> None:
    wire = decode(sign_event(ALICE, BODIES["license.purchase"], nonce=1, ts=TS).raw)
    wire["body"]["max_price"] += 1
    invalid(encode(wire), ALICE.did, error=InvalidSignature)


def test_invalid_author_mismatch() -> None:
    # Signed by Bob but naming Alice as author.
    data = signed_raw(BOB, "asset.withdraw", body_wire("asset.withdraw"), author=ALICE.did)
    invalid(data, f"signature does not verify for {ALICE.did}", error=InvalidSignature)


def test_invalid_author_swapped_after_signing() -> None:
    wire = decode(sign_event(ALICE, BODIES["asset.withdraw"], nonce=1, ts=TS).raw)
    wire["author"] = BOB.did
    invalid(encode(wire), BOB.did, error=InvalidSignature)


# --- body rules ----------------------------------------------------------------------


def _body_fields() -> list[tuple[str, str]]:
    return [(kind, field) for kind in KINDS for field in BODIES[kind].to_wire()]


@pytest.mark.parametrize("kind, field", _body_fields())
def test_invalid_missing_field(kind: str, field: str) -> None:
    body = body_wire(kind)
    del body[field]
    invalid(raw_with(kind, body), f"{kind} body.{field} is missing")


@pytest.mark.parametrize(
    "kind, field",
    [("access", "model"), ("access", "app"), ("model.register", "base_model"), ("asset.register", "media")],
)
def test_invalid_absent_nullable_field(kind: str, field: str) -> None:
    # A nil-able field must still be written (as nil): were absence accepted, stripping the
    # field would give the same signed event a second encoding and a second id.
    body = body_wire(kind, **{field: None})
    if kind == "asset.register":
        body["asset_type"] = "dataset"
    del body[field]
    invalid(raw_with(kind, body), f"{kind} body.{field} is missing")


def test_invalid_stripped_nil_field_after_signing() -> None:
    event = sign_event(ALICE, BODIES["access"], nonce=1, ts=TS)
    assert event.body.app is None  # type: ignore[attr-defined]
    wire = decode(event.raw)
    del wire["body"]["app"]
    invalid(encode(wire), "access body.app is missing")


def test_invalid_absent_manifest_license() -> None:
    body = body_wire("model.register")
    del body["manifest"][1]["license"]
    invalid(raw_with("model.register", body), "model.register body.manifest[1].license is missing")


@pytest.mark.parametrize("kind", KINDS)
def test_invalid_unknown_field(kind: str) -> None:
    invalid(raw_with(kind, body_wire(kind, zzz=1)), f"{kind} body has unknown field(s): zzz")


@pytest.mark.parametrize(
    "path, fragment",
    [
        (("media",), "asset.register body.media has unknown field(s): zzz"),
        (("rights_holders", 0), "asset.register body.rights_holders[0] has unknown field(s): zzz"),
        (("parents", 0), "asset.register body.parents[0] has unknown field(s): zzz"),
        (("terms",), "asset.register body.terms has unknown field(s): zzz"),
        (("terms", "purposes", "ai_training"), "asset.register body.terms.purposes.ai_training has unknown field(s): zzz"),
    ],
)
def test_invalid_unknown_nested_field(path: tuple[Any, ...], fragment: str) -> None:
    body = body_wire("asset.register")
    target: Any = body
    for step in path:
        target = target[step]
    target["zzz"] = 1
    invalid(raw_with("asset.register", body), fragment)


def test_invalid_unknown_manifest_entry_field() -> None:
    body = body_wire("model.register")
    body["manifest"][0]["zzz"] = 1
    invalid(raw_with("model.register", body), "model.register body.manifest[0] has unknown field(s): zzz")


WRONG_TYPES = [
    ("participant.register", "name", 5, "body.name must be text"),
    ("participant.register", "name", b"Alice", "body.name must be text"),
    ("participant.register", "roles", "creator", "body.roles must be a list"),
    ("asset.register", "size", "1", "body.size must be an integer"),
    ("asset.register", "size", True, "body.size must be an integer"),
    ("asset.register", "cid", None, "body.cid must be a CID in text form"),
    ("asset.register", "media", [], "body.media must be a map"),
    ("asset.register", "tags", "synth", "body.tags must be a list"),
    ("asset.register", "rights_holders", {}, "body.rights_holders must be a list"),
    ("asset.register", "terms", None, "body.terms must be a map"),
    ("asset.terms", "asset", b"bafk", "body.asset must be a CID in text form"),
    ("asset.withdraw", "reason", None, "body.reason must be text"),
    ("license.grant", "purposes", "ai_training", "body.purposes must be a list"),
    ("license.grant", "expires", "never", "body.expires must be an integer"),
    ("license.revoke", "license", "ab" * 32, "body.license must be 32 bytes"),
    ("license.revoke", "license", None, "body.license must be 32 bytes"),
    ("license.purchase", "max_price", [], "body.max_price must be an integer"),
    ("access", "purpose", ["ai_training"], "body.purpose must be one of"),
    ("access", "model", "model-id", "body.model must be 32 bytes"),
    ("access", "bytes", None, "body.bytes must be an integer"),
    ("model.register", "manifest_root", b"\x00" * 31, "body.manifest_root must be 32 bytes"),
    ("model.register", "base_model", b"\x00" * 33, "body.base_model must be 32 bytes"),
    ("app.register", "models", ["x" * 32], "body.models must be 32 bytes"),
    ("authority.vote", "add", 1, "body.add must be true or false"),
    ("authority.vote", "add", None, "body.add must be true or false"),
]


@pytest.mark.parametrize("kind, field, value, fragment", WRONG_TYPES, ids=lambda v: v if isinstance(v, str) else None)
def test_invalid_wrong_type(kind: str, field: str, value: Any, fragment: str) -> None:
    invalid(raw_with(kind, body_wire(kind, **{field: value})), f"{kind} {fragment}")


OUT_OF_RANGE = [
    ("media", "duration_ms", 10**10 + 1, "body.media.duration_ms must be between 0 and 10000000000"),
    ("media", "sample_rate", 0, "body.media.sample_rate must be between 1"),
    ("media", "sample_rate", 10**7 + 1, "body.media.sample_rate must be between 1"),
    ("media", "channels", 0, "body.media.channels must be between 1 and 256"),
    ("media", "channels", 257, "body.media.channels must be between 1 and 256"),
    ("share", "share_bps", 0, "body.rights_holders[0].share_bps must be between 1 and 10000"),
    ("share", "share_bps", 10_001, "body.rights_holders[0].share_bps must be between 1 and 10000"),
    ("body", "size", -1, "body.size must be between 0"),
]


@pytest.mark.parametrize("where, field, value, fragment", OUT_OF_RANGE)
def test_invalid_out_of_range_int(where: str, field: str, value: int, fragment: str) -> None:
    body = body_wire("asset.register")
    target = {"media": body["media"], "share": body["rights_holders"][0], "body": body}[where]
    target[field] = value
    invalid(raw_with("asset.register", body), f"asset.register {fragment}")


@pytest.mark.parametrize(
    "kind, field, value",
    [("license.grant", "expires", -1), ("license.grant", "max_accesses", -5), ("license.purchase", "max_price", -1), ("access", "bytes", -1)],
)
def test_invalid_negative_int(kind: str, field: str, value: int) -> None:
    invalid(raw_with(kind, body_wire(kind, **{field: value})), f"{kind} body.{field} must be between 0")


BAD_DIDS = ["bob", "did:key:z6Mk", "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme", 7]


@pytest.mark.parametrize("value", BAD_DIDS)
@pytest.mark.parametrize("kind, field", [("license.grant", "grantee"), ("authority.vote", "candidate")])
def test_invalid_bad_did(kind: str, field: str, value: Any) -> None:
    invalid(raw_with(kind, body_wire(kind, **{field: value})), f"{kind} body.{field} is not a valid account")


@pytest.mark.parametrize("value", BAD_DIDS)
def test_invalid_bad_rights_holder_did(value: Any) -> None:
    body = body_wire("asset.register")
    body["rights_holders"][0]["account"] = value
    invalid(raw_with("asset.register", body), "asset.register body.rights_holders[0].account is not a valid account")


BAD_CIDS = [
    "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",  # CIDv0
    "bafy",
    "",
    "BAFKREIHDWDCEFGH4DQKJV67UZCMW7OJEE6XEDZDETOJUZJEVTENXQUVYKU",  # upper-case base32
    "zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA",  # base58
]


@pytest.mark.parametrize("value", BAD_CIDS)
@pytest.mark.parametrize("kind, field", [("asset.register", "cid"), ("asset.terms", "asset"), ("license.purchase", "asset"), ("access", "asset")])
def test_invalid_bad_cid(kind: str, field: str, value: str) -> None:
    invalid(raw_with(kind, body_wire(kind, **{field: value})), f"{kind} body.{field} is not a valid CID")


def test_invalid_bad_parent_cid() -> None:
    body = body_wire("asset.register")
    body["parents"][0]["asset"] = "bafy"
    invalid(raw_with("asset.register", body), "asset.register body.parents[0].asset is not a valid CID")


def test_invalid_bad_manifest_cid() -> None:
    body = body_wire("model.register")
    body["manifest"][0]["asset"] = BAD_CIDS[0]
    invalid(raw_with("model.register", body), "model.register body.manifest[0].asset is not a valid CID")


@pytest.mark.parametrize("shares", [(5_000, 4_999), (5_000, 5_001), (9_999,), (10_000, 1)])
def test_invalid_shares_not_summing_to_10000(shares: tuple[int, ...]) -> None:
    holders = [ALICE.did, BOB.did, CAROL.did]
    body = body_wire("asset.register", rights_holders=[{"account": holders[i], "share_bps": bps} for i, bps in enumerate(shares)])
    invalid(raw_with("asset.register", body), "asset.register body.rights_holders shares sum to", "not 10000")


def test_invalid_duplicate_holder() -> None:
    body = body_wire(
        "asset.register",
        rights_holders=[{"account": ALICE.did, "share_bps": 5_000}, {"account": ALICE.did, "share_bps": 5_000}],
    )
    invalid(raw_with("asset.register", body), "asset.register body.rights_holders")


def test_invalid_duplicate_holder_with_different_shares() -> None:
    body = body_wire(
        "asset.register",
        rights_holders=[{"account": ALICE.did, "share_bps": 6_000}, {"account": ALICE.did, "share_bps": 4_000}],
    )
    invalid(raw_with("asset.register", body), "asset.register body.rights_holders names an account twice")


def test_invalid_no_rights_holders() -> None:
    invalid(raw_with("asset.register", body_wire("asset.register", rights_holders=[])), "asset.register body.rights_holders must have 1 to 16")


def test_invalid_too_many_rights_holders() -> None:
    from protocol.keys import did_from_public_key

    holders = [{"account": did_from_public_key(bytes([i]) * 32), "share_bps": 1} for i in range(17)]
    invalid(raw_with("asset.register", body_wire("asset.register", rights_holders=holders)), "body.rights_holders must have 1 to 16 items, not 17")


@pytest.mark.parametrize("asset_type", AUDIO_ASSET_TYPES)
def test_invalid_media_missing_for_audio_types(asset_type: str) -> None:
    body = body_wire("asset.register", asset_type=asset_type, media=None)
    invalid(raw_with("asset.register", body), f"asset.register body.media is required for a {asset_type}")


@pytest.mark.parametrize(
    "isrc, fragment",
    [
        ("US-RC1-76-07839", "must have 0 to 12 characters"),
        ("usrc17607839", "is not an ISRC"),
        ("USRC1760783", "is not an ISRC"),
        ("1SRC17607839", "is not an ISRC"),
        ("USRC1760783X", "is not an ISRC"),
        ("US RC1760783", "is not an ISRC"),
    ],
)
def test_invalid_isrc_format(isrc: str, fragment: str) -> None:
    invalid(raw_with("asset.register", body_wire("asset.register", isrc=isrc)), "asset.register body.isrc", fragment)


@pytest.mark.parametrize(
    "iswc, fragment",
    [
        ("T-034.524.680-1", "must have 0 to 11 characters"),
        ("T03452468012", "must have 0 to 11 characters"),
        ("t0345246801", "is not an ISWC"),
        ("T034524680", "is not an ISWC"),
        ("X0345246801", "is not an ISWC"),
        ("T034524680A", "is not an ISWC"),
    ],
)
def test_invalid_iswc_format(iswc: str, fragment: str) -> None:
    invalid(raw_with("asset.register", body_wire("asset.register", iswc=iswc)), "asset.register body.iswc", fragment)


@pytest.mark.parametrize(
    "kind, field, value, fragment",
    [
        ("participant.register", "name", "", "body.name must have 1 to 64 characters, not 0"),
        ("participant.register", "name", "x" * 65, "body.name must have 1 to 64 characters, not 65"),
        ("participant.register", "name", "Al\nice", "body.name must not contain control characters"),
        ("asset.register", "title", "", "body.title must have 1 to 200"),
        ("asset.register", "description", "d" * 2001, "body.description must have 0 to 2000"),
        ("asset.register", "genre", "g" * 65, "body.genre must have 0 to 64"),
        ("asset.register", "tags", [""], "body.tags must have 1 to 32 characters"),
        ("asset.register", "tags", ["t" * 33], "body.tags must have 1 to 32 characters"),
        ("asset.register", "tags", [str(i) for i in range(33)], "body.tags must have 0 to 32 items"),
        ("asset.withdraw", "reason", "r" * 501, "body.reason must have 0 to 500"),
        ("access", "node", "", "body.node must have 1 to 128"),
        ("model.register", "version", "", "body.version must have 1 to 32"),
        ("app.register", "name", "\x00", "body.name must not contain control characters"),
        ("app.register", "models", [], "body.models must have 1 to 64 items, not 0"),
    ],
)
def test_invalid_text_and_list_bounds(kind: str, field: str, value: Any, fragment: str) -> None:
    invalid(raw_with(kind, body_wire(kind, **{field: value})), f"{kind} {fragment}")


@pytest.mark.parametrize(
    "kind, field, value",
    [
        ("participant.register", "roles", ["creator", "creator"]),
        ("asset.register", "tags", ["synth", "synth"]),
        ("license.grant", "purposes", ["ai_training", "ai_training"]),
        ("license.purchase", "purposes", ["data_mining", "data_mining"]),
        ("app.register", "models", [b"\x01" * 32, b"\x01" * 32]),
    ],
)
def test_invalid_repeated_item(kind: str, field: str, value: list[Any]) -> None:
    invalid(raw_with(kind, body_wire(kind, **{field: value})), f"{kind} body.{field} must not repeat an item")


def test_invalid_repeated_parent() -> None:
    parent = {"asset": cid("original"), "relation": "remix_of"}
    invalid(raw_with("asset.register", body_wire("asset.register", parents=[parent, dict(parent)])), "asset.register body.parents must not repeat")


@pytest.mark.parametrize(
    "kind, field, value",
    [
        ("participant.register", "roles", ["admin"]),
        ("asset.register", "asset_type", "song"),
        ("license.grant", "purposes", ["music_video"]),
        ("access", "purpose", "marketing"),
    ],
)
def test_invalid_choice(kind: str, field: str, value: Any) -> None:
    invalid(raw_with(kind, body_wire(kind, **{field: value})), f"{kind} body.{field} must be one of")


def test_invalid_no_roles_or_purposes() -> None:
    invalid(raw_with("participant.register", body_wire("participant.register", roles=[])), "participant.register body.roles must have 1 to 5")
    invalid(raw_with("license.grant", body_wire("license.grant", purposes=[])), "license.grant body.purposes must have 1 to 5")


def test_invalid_parent_relation() -> None:
    body = body_wire("asset.register")
    body["parents"][0]["relation"] = "cover_of"
    invalid(raw_with("asset.register", body), "asset.register body.parents[0].relation must be one of")


def test_invalid_parent_is_the_asset_itself() -> None:
    body = body_wire("asset.register")
    body["parents"] = [{"asset": body["cid"], "relation": "remix_of"}]
    invalid(raw_with("asset.register", body), "asset.register body.parents names the asset itself")


def test_invalid_terms_in_body() -> None:
    body = body_wire("asset.terms")
    body["terms"]["purposes"]["ai_training"] = {"mode": "purchase", "price": 0}
    invalid(raw_with("asset.terms", body), "asset.terms body.terms.purposes.ai_training.price must be positive")
    body = body_wire("asset.register")
    del body["terms"]["purposes"]["application"]
    invalid(raw_with("asset.register", body), "asset.register body.terms.purposes must name exactly")


def test_invalid_manifest_root_mismatch() -> None:
    body = body_wire("model.register", manifest_root=digest("not the root"))
    invalid(raw_with("model.register", body), "model.register body.manifest_root does not match the manifest")


def test_invalid_manifest_root_of_reordered_manifest() -> None:
    body = body_wire("model.register")
    body["manifest"].reverse()
    invalid(raw_with("model.register", body), "model.register body.manifest_root does not match")


def test_invalid_duplicate_manifest_asset() -> None:
    # Same asset under two licenses, with a root that matches the duplicated list.
    entries = (ManifestEntry(cid("a"), digest("l1")), ManifestEntry(cid("a"), digest("l2")))
    body = ModelRegister("m", "1", None, entries, merkle_root([manifest_leaf(e) for e in entries]))
    invalid(raw_with("model.register", body.to_wire()), "model.register body.manifest names an asset twice")


def test_invalid_manifest_too_long() -> None:
    entries = [{"asset": cid(f"a{i}"), "license": None} for i in range(1001)]
    invalid(raw_with("model.register", body_wire("model.register", manifest=entries)), "model.register body.manifest must have 0 to 1000 items, not 1001")


def test_invalid_manifest_license_shape() -> None:
    body = body_wire("model.register")
    body["manifest"][0]["license"] = b"short"
    invalid(raw_with("model.register", body), "model.register body.manifest[0].license must be 32 bytes")


def test_event_is_frozen() -> None:
    event = sign_event(ALICE, BODIES["asset.withdraw"], nonce=1, ts=TS)
    with pytest.raises(Exception):
        event.nonce = 2  # type: ignore[misc]
    assert isinstance(event, Event)
