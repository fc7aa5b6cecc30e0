"""did:key names and domain-separated Ed25519 signatures."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import InvalidKey, InvalidSignature
from protocol.keys import (
    Domain,
    SigningKey,
    b58decode,
    b58encode,
    did_from_public_key,
    is_did,
    public_key_from_did,
    verify_signature,
)

# w3c-ccg/did-method-key test-vectors/ed25519-x25519.json: seed -> did, publicKeyBase58.
W3C_SEED_VECTORS = [
    ("00" * 32, "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp", "4zvwRjXUKGfvwnParsHAS3HuSVzV5cA4McphgmoCtajS"),
    ("00" * 31 + "01", "did:key:z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG", "6ASf5EcmmEHTgDJ4X4ZT5vT6iHVJBXPg5AN5YoTCpGWt"),
    ("00" * 31 + "02", "did:key:z6MknGc3ocHs3zdPiJbnaaqDi58NGb4pk1Sp9WxWufuXSdxf", "8pM1DN3RiT8vbom5u1sNryaNT1nyL8CTTW3b5PwWXRBH"),
    ("00" * 31 + "03", "did:key:z6MkvqoYXQfDDJRv8L4wKzxYeuKyVZBfi9Qo6Ro8MiLH3kDQ", "HPYVwAQmskwT1qEEeRzhoomyfyupJGASQQtCXSNG8XS2"),
    ("00" * 31 + "04", "did:key:z6MkwW6aqMnjgrhJXFUko3NnZPGzVpkNzhYK7yEhnsibmLwL", "J3qYF7YJMKCqQke47UQwiHizgFUXapHxRxKmxbkar89x"),
]

# did -> publicKeyBase58 from DID documents published with the spec and its implementations
# (the spec's own example, and the did:key example used across the ecosystem).
PUBLIC_KEY_VECTORS = [
    ("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", "48GdbJyVULjHDaBNS6ct9oAGtckZUS5v8asrPzvZ7R1w"),
    ("did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH", "B12NYF8RrR3h41TDCTJojY59usg3mbtbjnFs7Eud1Y6u"),
]

KEY = SigningKey(bytes(range(32)))
OTHER = SigningKey(bytes(range(1, 33)))


@pytest.mark.parametrize("seed, did, public_b58", W3C_SEED_VECTORS, ids=lambda v: v[-6:] if isinstance(v, str) else v)
def test_w3c_seed_vectors(seed: str, did: str, public_b58: str) -> None:
    key = SigningKey(bytes.fromhex(seed))
    assert key.did == did
    assert b58encode(key.public_key) == public_b58
    assert public_key_from_did(did) == key.public_key == b58decode(public_b58)


@pytest.mark.parametrize("did, public_b58", PUBLIC_KEY_VECTORS)
def test_spec_example_dids(did: str, public_b58: str) -> None:
    public_key = b58decode(public_b58)
    assert len(public_key) == 32
    assert did_from_public_key(public_key) == did
    assert public_key_from_did(did) == public_key
    assert did.startswith("did:key:z6Mk")
    assert is_did(did)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_did_round_trip(public_key: bytes) -> None:
    did = did_from_public_key(public_key)
    assert did.startswith("did:key:z6Mk")
    assert public_key_from_did(did) == public_key


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_base58_round_trip(data: bytes) -> None:
    assert b58decode(b58encode(data)) == data


def test_base58_leading_zeros() -> None:
    assert b58encode(b"") == ""
    assert b58encode(b"\x00\x00\x01") == "112"
    assert b58decode("112") == b"\x00\x00\x01"
    assert b58encode(b"hello world") == "StV1DL6CwTryKyV"  # the Bitcoin base58 reference vector


def test_signing_key_did_matches_public_key() -> None:
    assert KEY.did == did_from_public_key(KEY.public_key)
    assert len(KEY.public_key) == 32


def test_generated_keys_differ() -> None:
    assert SigningKey.generate().did != SigningKey.generate().did


def test_repr_does_not_show_seed() -> None:
    text = repr(KEY)
    assert KEY.did in text
    assert KEY.seed.hex() not in text


@pytest.mark.parametrize("seed", [b"", b"\x00" * 31, b"\x00" * 33])
def test_invalid_seed_length(seed: bytes) -> None:
    with pytest.raises(InvalidKey, match="32 bytes"):
        SigningKey(seed)


# --- rejected names ------------------------------------------------------------------

_ED = b"\xed\x01"
_VALID = KEY.did


@pytest.mark.parametrize(
    "did",
    [
        "did:web:example.com",
        "did:key:" + _VALID[len("did:key:z"):],  # multibase prefix missing
        "did:key:Z" + _VALID[len("did:key:z"):],
        "did:key:f" + (_ED + KEY.public_key).hex(),  # base16 multibase
        "DID:KEY:" + _VALID[len("did:key:"):],
        _VALID[len("did:key:"):],  # bare multibase key
        " " + _VALID,
        "",
    ],
    ids=["did-web", "no-z", "upper-Z", "base16", "upper-case", "bare", "space", "empty"],
)
def test_invalid_wrong_prefix(did: str) -> None:
    with pytest.raises(InvalidKey, match="not a did:key"):
        public_key_from_did(did)
    assert not is_did(did)


@pytest.mark.parametrize("value", [None, 42, KEY.public_key, [KEY.did]])
def test_invalid_non_text_did(value: object) -> None:
    with pytest.raises(InvalidKey):
        public_key_from_did(value)  # type: ignore[arg-type]
    assert not is_did(value)


@pytest.mark.parametrize(
    "multicodec, size",
    [(b"\xec\x01", 32), (b"\xe7\x01", 33), (b"\x12\x00", 32), (b"\xed\x00", 32), (b"\x01\xed", 32)],
    ids=["x25519", "secp256k1", "sha2-256", "ed-wrong-varint", "swapped"],
)
def test_invalid_wrong_multicodec(multicodec: bytes, size: int) -> None:
    did = "did:key:z" + b58encode(multicodec + bytes(range(size)))
    with pytest.raises(InvalidKey, match="Ed25519"):
        public_key_from_did(did)


@pytest.mark.parametrize("size", [0, 1, 31, 33, 64])
def test_invalid_wrong_length(size: int) -> None:
    did = "did:key:z" + b58encode(_ED + bytes([7]) * size)
    with pytest.raises(InvalidKey, match="Ed25519"):
        public_key_from_did(did)


@pytest.mark.parametrize("size", [0, 31, 33])
def test_invalid_public_key_length(size: int) -> None:
    with pytest.raises(InvalidKey, match="32 bytes"):
        did_from_public_key(b"\x01" * size)


@pytest.mark.parametrize("char", ["0", "O", "I", "l", "+", "/", "=", "é", " "])
def test_invalid_non_base58(char: str) -> None:
    did = _VALID[:20] + char + _VALID[21:]
    with pytest.raises(InvalidKey, match="base58"):
        public_key_from_did(did)


def test_invalid_leading_zero_bytes() -> None:
    # "1" is base58 for a leading zero byte: it changes the decoded bytes, never just the spelling.
    with pytest.raises(InvalidKey):
        public_key_from_did("did:key:z1" + _VALID[len("did:key:z"):])


# --- signatures ----------------------------------------------------------------------

MESSAGE = b"the canonical encoding of something"


@pytest.mark.parametrize("domain", list(Domain))
def test_signature_verifies(domain: Domain) -> None:
    signature = KEY.sign(domain, MESSAGE)
    assert len(signature) == 64
    verify_signature(domain, MESSAGE, signature, KEY.did)


def test_signature_is_deterministic() -> None:
    assert KEY.sign(Domain.EVENT, MESSAGE) == KEY.sign(Domain.EVENT, MESSAGE)


@pytest.mark.parametrize("signed_under, checked_under", list(itertools.permutations(Domain, 2)))
def test_invalid_signature_under_another_domain(signed_under: Domain, checked_under: Domain) -> None:
    signature = KEY.sign(signed_under, MESSAGE)
    with pytest.raises(InvalidSignature, match="does not verify"):
        verify_signature(checked_under, MESSAGE, signature, KEY.did)


def test_domain_tags_are_distinct_and_prefix_free() -> None:
    tags = [domain.value for domain in Domain]
    assert len(set(tags)) == len(tags)
    for a, b in itertools.permutations(tags, 2):
        assert not b.startswith(a)
    assert all(tag.endswith(b"\x00") for tag in tags)


def test_signature_does_not_move_between_domain_and_message() -> None:
    # The tag is NUL-terminated, so shifting bytes between tag and message cannot forge a match.
    signature = KEY.sign(Domain.EVENT, MESSAGE)
    with pytest.raises(InvalidSignature):
        verify_signature(Domain.EVENT, Domain.EVENT.value + MESSAGE, signature, KEY.did)


@pytest.mark.parametrize("position", [0, 1, 17, len(MESSAGE) - 1])
def test_invalid_tampered_message(position: int) -> None:
    signature = KEY.sign(Domain.EVENT, MESSAGE)
    tampered = bytearray(MESSAGE)
    tampered[position] ^= 0x01
    with pytest.raises(InvalidSignature, match="does not verify"):
        verify_signature(Domain.EVENT, bytes(tampered), signature, KEY.did)
    with pytest.raises(InvalidSignature):
        verify_signature(Domain.EVENT, MESSAGE + b"\x00", signature, KEY.did)


@pytest.mark.parametrize("position", [0, 31, 32, 63])
def test_invalid_tampered_signature(position: int) -> None:
    signature = bytearray(KEY.sign(Domain.EVENT, MESSAGE))
    signature[position] ^= 0x80
    with pytest.raises(InvalidSignature):
        verify_signature(Domain.EVENT, MESSAGE, bytes(signature), KEY.did)


def test_invalid_other_signer() -> None:
    signature = OTHER.sign(Domain.EVENT, MESSAGE)
    with pytest.raises(InvalidSignature, match=KEY.did):
        verify_signature(Domain.EVENT, MESSAGE, signature, KEY.did)


@pytest.mark.parametrize("signature", [b"", b"\x00" * 63, b"\x00" * 65, "x" * 64, None])
def test_invalid_signature_shape(signature: object) -> None:
    with pytest.raises(InvalidSignature, match="64 bytes"):
        verify_signature(Domain.EVENT, MESSAGE, signature, KEY.did)  # type: ignore[arg-type]


def test_invalid_signature_as_bytearray() -> None:
    signature = bytearray(KEY.sign(Domain.EVENT, MESSAGE))
    with pytest.raises(InvalidSignature):
        verify_signature(Domain.EVENT, MESSAGE, signature, KEY.did)  # type: ignore[arg-type]


def test_invalid_signer_did() -> None:
    signature = KEY.sign(Domain.EVENT, MESSAGE)
    with pytest.raises(InvalidKey):
        verify_signature(Domain.EVENT, MESSAGE, signature, "did:web:example.com")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", max_size=60))
def test_base58_decoding_is_one_to_one(text: str) -> None:
    # public_key_from_did relies on this instead of encoding each name again: no two
    # base58 strings decode to the same bytes, so a key has exactly one did:key name.
    assert b58encode(b58decode(text)) == text
