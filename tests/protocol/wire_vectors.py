"""The test vectors of docs/wire.md, computed from protocol/ (``python -m tests.protocol.wire_vectors`` rewrites the file).

In the JSON, a MessagePack ``bin`` value is written ``{"$bin": "<hex>"}``; every other
value is itself (text, integers, booleans, null, arrays, maps).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from protocol.cid import RAW, cid_to_str, make_cid
from protocol.encoding import encode
from protocol.events import (
    Access,
    AssetRegister,
    AssetTerms,
    Body,
    LicenseRevoke,
    Media,
    ParticipantRegister,
    Share,
    sign_event,
)
from protocol.keys import Domain, SigningKey
from protocol.terms import ALLOWED, PER_ACCESS, PURCHASE, Terms

VECTORS_PATH = Path(__file__).resolve().parents[2] / "docs" / "wire-vectors.json"

SEEDS = [bytes(range(32)), bytes([0x42] * 32)]
TS = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms

ENCODING_VALUES: list[tuple[str, Any]] = [
    ("positive fixint", 0),
    ("largest positive fixint", 127),
    ("uint8", 128),
    ("largest uint8", 255),
    ("uint16", 256),
    ("uint32", 65_536),
    ("uint64", 2**32),
    ("negative fixint", -1),
    ("smallest negative fixint", -32),
    ("int8", -33),
    ("int16", -129),
    ("empty text", ""),
    ("text with a two-byte UTF-8 character", "é"),
    ("text of 32 bytes: str8", "x" * 32),
    ("true", True),
    ("false", False),
    ("nil", None),
    ("empty bin", b""),
    ("bin", b"\x00\x01\xfe\xff"),
    ("array", [1, "a", None]),
    ("map keys sorted by their UTF-8 bytes", {"b": 1, "ab": 2, "a": 3}),
    ("a key with a non-ASCII character sorts after ASCII", {"é": 1, "z": 2}),
    ("nested map", {"z": {"y": 1, "x": 2}, "a": []}),
]


def to_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$bin": value.hex()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    return value


def _asset_cid(seed: int) -> str:
    return cid_to_str(make_cid(RAW, f"wire vector asset {seed}".encode()))


def _bodies(accounts: list[str]) -> list[tuple[int, int, Body]]:
    """(key index, nonce, body) of each event vector."""
    asset = _asset_cid(1)
    return [
        (0, 1, ParticipantRegister(name="Ada Tone", roles=("creator", "contributor"))),
        (
            0,
            2,
            AssetRegister(
                cid=asset,
                size=1_234_567,
                media=Media(format="wav", duration_ms=2000, sample_rate=44_100, channels=2),
                title="First light",
                description="",
                asset_type="track",
                genre="ambient",
                tags=("calm", "piano"),
                isrc="",
                iswc="",
                rights_holders=(Share(accounts[0], 7000), Share(accounts[1], 3000)),
                parents=(),
                terms=Terms.make({"ai_training": (PURCHASE, 5), "data_mining": (ALLOWED, 0)}),
                sealed_cid=_asset_cid(2),
                fingerprint=bytes.fromhex("0a1b2c3d4e5f6071"),
            ),
        ),
        (0, 3, AssetTerms(asset=asset, terms=Terms.make({"ai_inference": (PER_ACCESS, 2)}, commercial=True, expires=TS + 86_400_000))),
        (1, 1, Access(asset=asset, purpose="data_mining", model=None, app=None, node="12D3KooWExampleNodePeerId", bytes=1_234_567, max_price=0)),
        (0, 4, LicenseRevoke(license=bytes(range(32, 64)))),
    ]


def build_vectors() -> dict[str, Any]:
    keys = [SigningKey(seed) for seed in SEEDS]
    events = []
    for key_index, nonce, body in _bodies([key.did for key in keys]):
        key = keys[key_index]
        event = sign_event(key, body, nonce, TS)
        unsigned = encode(event.unsigned_wire())
        events.append(
            {
                "key": key_index,
                "envelope": to_json(event.unsigned_wire()),
                "unsigned_hex": unsigned.hex(),
                "signing_input_hex": (Domain.EVENT.value + unsigned).hex(),
                "sig_hex": event.sig.hex(),
                "signed_hex": event.raw.hex(),
                "id_hex": event.id.hex(),
            }
        )
    return {
        "about": "Test vectors for docs/wire.md; bin values are written {\"$bin\": hex}",
        "domains": {domain.name.lower(): domain.value.hex() for domain in Domain},
        "keys": [{"seed_hex": k.seed.hex(), "public_key_hex": k.public_key.hex(), "did": k.did} for k in keys],
        "encoding": [{"what": what, "value": to_json(value), "hex": encode(value).hex()} for what, value in ENCODING_VALUES],
        "events": events,
    }


def render(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    VECTORS_PATH.write_text(render(build_vectors()))
    sys.stdout.write(f"wrote {VECTORS_PATH}\n")
