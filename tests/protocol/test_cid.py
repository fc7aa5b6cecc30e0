"""CIDv1 construction, text form and strict parsing."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.cid import (
    DAG_PB,
    RAW,
    SHA2_256,
    base32_decode,
    base32_encode,
    cid_codec,
    cid_digest,
    cid_from_str,
    cid_to_str,
    decode_uvarint,
    encode_uvarint,
    is_valid_block,
    make_cid,
    validate_cid,
)
from protocol.errors import DecodeError, InvalidCID, ProtocolError

# Published values: sha2-256 raw CIDs that `ipfs add --cid-version=1 --raw-leaves`
# prints (the "hello world" one is asserted in kubo's test/cli/add_test.go).
EMPTY_RAW = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
HELLO_WORLD_RAW = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
# kubo add_test.go: "hello world" with Import.HashFunction=sha2-512 (valid CID, not accepted here).
HELLO_WORLD_SHA512 = (
    "bafkrgqbqt3gerhas23vuzrapkdeqf4vu2dwxp3srdj6hvg6nhsug2tgyn6mj3u23"
    "yx7utftq3i2ckw2fwdh5qmhid5qf3t35yvkc5e5ottlw6"
)
# Same file as CIDv0 (dag-pb, base58btc).
HELLO_WORLD_V0 = "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"


def _cid_bytes(*parts: int, digest: bytes = b"\x00" * 32) -> bytes:
    return bytes(parts) + digest


def _text(cid: bytes) -> str:
    return "b" + base32_encode(cid)


def test_constants() -> None:
    assert (RAW, DAG_PB, SHA2_256) == (0x55, 0x70, 0x12)


def test_known_raw_cids() -> None:
    assert cid_to_str(make_cid(RAW, b"")) == EMPTY_RAW
    assert cid_to_str(make_cid(RAW, b"hello world")) == HELLO_WORLD_RAW


def test_binary_layout() -> None:
    data = b"audiera"
    for codec in (RAW, DAG_PB):
        cid = make_cid(codec, data)
        assert cid == bytes((1, codec, 0x12, 0x20)) + hashlib.sha256(data).digest()
        assert cid_codec(cid) == codec
        assert cid_digest(cid) == hashlib.sha256(data).digest()


def test_text_prefixes() -> None:
    assert cid_to_str(make_cid(RAW, b"x")).startswith("bafkrei")
    assert cid_to_str(make_cid(DAG_PB, b"x")).startswith("bafybei")


@given(st.binary(max_size=300), st.sampled_from([RAW, DAG_PB]))
def test_round_trip(data: bytes, codec: int) -> None:
    cid = make_cid(codec, data)
    text = cid_to_str(cid)
    assert len(text) == 59
    assert cid_from_str(text) == cid
    assert is_valid_block(cid, data)
    assert not is_valid_block(cid, data + b"\x00")


@given(st.binary(max_size=64))
def test_base32_matches_stdlib(data: bytes) -> None:
    expected = base64.b32encode(data).decode().rstrip("=").lower()
    assert base32_encode(data) == expected
    assert base32_decode(expected) == data


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("MFRGG", "lower case"),
        ("mfrgg=", "invalid base32 character '='"),
        ("mfr gg", "invalid base32 character ' '"),
        ("m1", "invalid base32 character '1'"),
        ("m", "invalid length"),  # 5 bits: not a whole byte, not padding
        ("mfr", "invalid length"),
        ("mb", "padding bits"),  # 'b' leaves a non-zero bit after the byte
    ],
)
def test_base32_strict(text: str, fragment: str) -> None:
    with pytest.raises(InvalidCID, match=fragment):
        base32_decode(text)


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_varint_round_trip(value: int) -> None:
    encoded = encode_uvarint(value)
    assert decode_uvarint(encoded + b"\xff", 0) == (value, len(encoded))


def test_varint_known_and_strict() -> None:
    assert encode_uvarint(0) == b"\x00"
    assert encode_uvarint(300) == b"\xac\x02"
    with pytest.raises(DecodeError, match="non-minimal"):
        decode_uvarint(b"\x81\x00")
    with pytest.raises(DecodeError, match="truncated"):
        decode_uvarint(b"\x80")
    with pytest.raises(DecodeError, match="longer than 9"):
        decode_uvarint(b"\x80" * 9 + b"\x01", 0, 9)
    with pytest.raises(ValueError):
        encode_uvarint(-1)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "empty CID"),
        (HELLO_WORLD_V0, r"CIDv0 \(Qm…\) is not accepted: use CIDv1 base32"),
        ("zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA", "base58btc"),
        ("BAFKREIFZJUT3TE2NHYEKKLSS27NH3K72YSCO7Y32KOAO5EEI66WOF36N5E", "upper-case base32"),
        ("f01551220" + "00" * 32, "base16"),
        ("uAVUSIA", "base64url"),
        ("?abc", "multibase prefix '?'"),
        ("b" + HELLO_WORLD_RAW[1:].upper(), "lower case"),
        (HELLO_WORLD_RAW + "a", "invalid length"),
        (HELLO_WORLD_SHA512, "unsupported hash function 0x13"),
        (_text(_cid_bytes(1, 0x71, 0x12, 0x20)), "unknown codec 0x71"),
        (_text(_cid_bytes(1, 0x72, 0x12, 0x20)), "unknown codec 0x72"),
        (_text(_cid_bytes(2, 0x55, 0x12, 0x20)), "unsupported CID version 2"),
        (_text(_cid_bytes(0x12, 0x20)), "CIDv0"),
        (_text(_cid_bytes(1, 0x55, 0x00, 0x20)), "unsupported hash function 0x0"),
        (_text(_cid_bytes(1, 0x55, 0x12, 0x1F, digest=b"\x00" * 31)), "must be 32, got 31"),
        (_text(_cid_bytes(1, 0x55, 0x12, 0x20, digest=b"\x00" * 31)), "truncated CID"),
        (_text(_cid_bytes(1, 0x55, 0x12, 0x20, digest=b"\x00" * 33)), "1 trailing bytes"),
        (_text(bytes((1, 0xD5, 0x00, 0x12, 0x20)) + b"\x00" * 32), "non-minimal"),
        (_text(bytes((1, 0x55, 0x12))), "truncated varint"),
    ],
)
def test_cid_from_str_rejects(text: str, fragment: str) -> None:
    with pytest.raises(InvalidCID, match=fragment):
        cid_from_str(text)


def test_cid_from_str_rejects_non_string() -> None:
    with pytest.raises(InvalidCID, match="must be a string"):
        cid_from_str(b"bafk")  # type: ignore[arg-type]


def test_binary_accessors_validate() -> None:
    bad = _cid_bytes(1, 0x71, 0x12, 0x20)
    for func in (cid_codec, cid_digest, cid_to_str, validate_cid):
        with pytest.raises(InvalidCID, match="unknown codec 0x71"):
            func(bad)
    with pytest.raises(InvalidCID):
        is_valid_block(bad, b"")
    with pytest.raises(InvalidCID, match="empty"):
        validate_cid(b"")
    with pytest.raises(InvalidCID, match="unknown codec 0x71"):
        make_cid(0x71, b"")


def test_errors_are_protocol_errors() -> None:
    with pytest.raises(ProtocolError) as info:
        cid_from_str(HELLO_WORLD_V0)
    assert info.value.code == "invalid_cid"
    assert "CIDv0" in info.value.message
