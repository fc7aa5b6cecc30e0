"""Canonical MessagePack: round trips, and every non-canonical form refused with DecodeError."""

from __future__ import annotations

import struct
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.encoding import decode, encode, object_id, sha256
from protocol.errors import DecodeError

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.binary(max_size=300),
    st.text(max_size=300),
)


def values(depth: int = 5) -> st.SearchStrategy[Any]:
    if depth == 0:
        return SCALARS
    inner = st.deferred(lambda: values(depth - 1))
    return st.one_of(
        SCALARS,
        st.lists(inner, max_size=5),
        st.dictionaries(st.text(max_size=10), inner, max_size=5),
    )


def same(a: Any, b: Any) -> bool:
    """Equality that also tells bool from int and bytes from str."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def rejects(data: bytes, fragment: str = "") -> str:
    with pytest.raises(DecodeError) as exc:
        decode(data)
    assert exc.value.message, "a DecodeError must say what is wrong"
    assert fragment in exc.value.message
    return exc.value.message


# --- round trips ---------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(values())
def test_round_trip(value: Any) -> None:
    data = encode(value)
    decoded = decode(data)
    assert encode(decoded) == data
    assert same(decoded, _sorted(value))


def _sorted(value: Any) -> Any:
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value, key=str.encode)}
    return value


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=6), st.integers(0, 5), min_size=2, max_size=6), st.randoms())
def test_map_order_does_not_change_encoding(value: dict[str, int], rnd: Any) -> None:
    items = list(value.items())
    rnd.shuffle(items)
    assert encode(dict(items)) == encode(value)


@pytest.mark.parametrize(
    "value",
    [0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1, -1, -32, -33, -128, -129, -(2**15), -(2**31) - 1, -(2**63)],
)
def test_integer_boundaries_round_trip(value: int) -> None:
    assert decode(encode(value)) == value


def test_types_are_kept_apart() -> None:
    assert isinstance(decode(encode(b"a")), bytes)
    assert isinstance(decode(encode("a")), str)
    assert encode(b"a") != encode("a")
    assert decode(encode(True)) is True
    assert decode(encode(1)) == 1 and type(decode(encode(1))) is int
    assert decode(encode(None)) is None


def test_tuples_and_buffers_encode_as_their_canonical_forms() -> None:
    assert encode((1, 2)) == encode([1, 2])
    assert encode(bytearray(b"xy")) == encode(b"xy") == encode(memoryview(b"xy"))


def test_map_keys_sorted_by_utf8_bytes() -> None:
    data = encode({"z": 1, "é": 2, "B": 3, "a": 4, "": 5})
    assert list(decode(data)) == ["", "B", "a", "z", "é"]


def test_decode_accepts_bytearray_and_memoryview() -> None:
    data = encode({"a": [1, b"x"]})
    assert decode(bytearray(data)) == decode(memoryview(data)) == {"a": [1, b"x"]}


def test_object_id_is_sha256_of_encoding() -> None:
    value = {"b": [1, 2], "a": "x"}
    assert object_id(value) == sha256(encode(value))
    assert object_id(value) == object_id({"a": "x", "b": [1, 2]})
    assert len(object_id(value)) == 32


# --- canonical rejection ---------------------------------------------------------------


def test_invalid_unsorted_map_keys() -> None:
    data = msgpack.packb({"b": 1, "a": 2}, use_bin_type=True)
    rejects(data, "not canonical")


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=6), st.integers(0, 5), min_size=2, max_size=6))
def test_invalid_any_unsorted_map(value: dict[str, int]) -> None:
    backwards = dict(sorted(value.items(), key=lambda item: item[0].encode(), reverse=True))
    rejects(msgpack.packb(backwards, use_bin_type=True), "not canonical")


@pytest.mark.parametrize(
    "data",
    [
        b"\xcc\x01",  # uint8 for 1
        b"\xcd\x00\x01",  # uint16 for 1
        b"\xce\x00\x00\x00\x01",  # uint32 for 1
        b"\xcf" + (1).to_bytes(8, "big"),  # uint64 for 1
        b"\xcd\x00\xff",  # uint16 for 255
        b"\xce\x00\x00\xff\xff",  # uint32 for 65535
        b"\xd0\x01",  # int8 for 1
        b"\xd0\xff",  # int8 for -1 (fixint e0..ff)
        b"\xd1\xff\x80",  # int16 for -128
        b"\xd1\x00\x80",  # int16 for 128
        b"\xd2\xff\xff\xff\xff",  # int32 for -1
        b"\xd3" + (-5).to_bytes(8, "big", signed=True),  # int64 for -5
    ],
    ids=lambda data: data.hex(),
)
def test_invalid_non_minimal_integer(data: bytes) -> None:
    rejects(data, "not canonical")


@pytest.mark.parametrize(
    "data",
    [
        b"\xd9\x01a",  # str8 for a 1-char string (fixstr is canonical)
        b"\xda\x00\x01a",  # str16
        b"\xdb\x00\x00\x00\x01a",  # str32
        b"\xc5\x00\x01a",  # bin16 for 1 byte
        b"\xc6\x00\x00\x00\x01a",  # bin32
        b"\xdc\x00\x01\x01",  # array16 for 1 item
        b"\xdd\x00\x00\x00\x01\x01",  # array32
        b"\xde\x00\x01\xa1a\x01",  # map16 for 1 entry
        b"\xdf\x00\x00\x00\x01\xa1a\x01",  # map32
    ],
    ids=lambda data: data.hex(),
)
def test_invalid_non_minimal_lengths(data: bytes) -> None:
    rejects(data, "not canonical")


def test_str_and_bin_are_not_interchangeable() -> None:
    # bin decodes to bytes and str to text: the same characters are two different values.
    assert decode(b"\xc4\x01a") == b"a"
    assert decode(b"\xa1a") == "a"
    assert decode(b"\xc4\x01a") != decode(b"\xa1a")
    # bytes that are not UTF-8 written as str are refused, not turned into bytes.
    rejects(b"\xa2\xff\xfe", "UTF-8")


def test_invalid_bin_as_map_key() -> None:
    rejects(b"\x81\xc4\x01a\x01", "not text")


@pytest.mark.parametrize(
    "data",
    [
        b"\xca" + struct.pack(">f", 1.5),
        b"\xcb" + struct.pack(">d", 1.5),
        b"\xca" + struct.pack(">f", 0.0),
        b"\xcb" + struct.pack(">d", float("nan")),
        b"\x91\xcb" + struct.pack(">d", 2.0),  # inside a list
        b"\x81\xa1a\xca" + struct.pack(">f", 2.0),  # inside a map
    ],
    ids=["float32", "float64", "float32-zero", "float64-nan", "in-list", "in-map"],
)
def test_invalid_float(data: bytes) -> None:
    rejects(data, "floating-point")


@pytest.mark.parametrize(
    "data",
    [
        b"\xd4\x01\x00",  # fixext1
        b"\xd5\x02\x00\x00",  # fixext2
        b"\xc7\x03\x05abc",  # ext8
        b"\xd6\xff\x00\x00\x00\x01",  # timestamp32 (ext type -1)
        b"\x91\xd4\x01\x00",  # ext inside a list
    ],
    ids=lambda data: data.hex(),
)
def test_invalid_extension_type(data: bytes) -> None:
    message = rejects(data)
    assert "xtension" in message or "Timestamp" in message


def test_invalid_trailing_bytes() -> None:
    rejects(encode({"a": 1}) + b"\x00", "trailing")
    rejects(b"\x01\x02", "trailing")


def test_invalid_truncated_input() -> None:
    data = encode({"list": [1, 2**40, "text", b"bytes"], "map": {"k": None}})
    for end in range(1, len(data)):
        rejects(data[:end])


def test_invalid_utf8_text() -> None:
    rejects(b"\xa2\xc3\x28", "UTF-8")
    rejects(b"\xa1\x80", "UTF-8")
    rejects(b"\xa3\xed\xa0\x80", "UTF-8")  # an encoded surrogate


def test_invalid_utf8_map_key() -> None:
    rejects(b"\x81\xa1\xff\x01", "UTF-8")


@pytest.mark.parametrize(
    "data",
    [b"\x81\x01\x02", b"\x81\xc0\x01", b"\x81\xc3\x01", b"\x81\x90\x01", b"\x81\xc4\x01k\x01"],
    ids=["int", "nil", "bool", "array", "bin"],
)
def test_invalid_non_text_map_key(data: bytes) -> None:
    rejects(data)


def test_invalid_duplicate_keys() -> None:
    rejects(b"\x82\xa1a\x01\xa1a\x02", "not canonical")
    rejects(b"\x82\xa1a\x01\xa1a\x01", "not canonical")


def test_invalid_empty_input() -> None:
    rejects(b"", "empty")


@pytest.mark.parametrize("data", ["text", None, 1, [1]])
def test_invalid_input_type(data: Any) -> None:
    with pytest.raises(DecodeError, match="bytes"):
        decode(data)


def test_invalid_reserved_byte() -> None:
    rejects(b"\xc1")


@pytest.mark.parametrize(
    "data",
    [b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff", b"\xdb\xff\xff\xff\xff", b"\xc6\xff\xff\xff\xff"],
    ids=["array32", "map32", "str32", "bin32"],
)
def test_invalid_length_beyond_input(data: bytes) -> None:
    rejects(data)


def test_invalid_nesting_too_deep() -> None:
    assert decode(b"\x91" * 16 + b"\x01") is not None
    rejects(b"\x91" * 17 + b"\x01", "deeper")
    rejects(b"\x91" * 100_000 + b"\x01")
    with pytest.raises(DecodeError, match="deeper"):
        encode(_nest(17))


def _nest(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "value, fragment",
    [
        (1.0, "float"),
        ({"a": 0.5}, "float"),
        (2**64, "64 bits"),
        (-(2**63) - 1, "64 bits"),
        ({1: "a"}, "not text"),
        ({b"k": "a"}, "not text"),
        ({1, 2}, "set"),
        (object(), "object"),
        ("\ud800", "surrogate"),
        ({"\udfff": 1}, "surrogate"),
        (["ok", "\ud83d"], "surrogate"),
    ],
    ids=["float", "nested-float", "too-big", "too-small", "int-key", "bytes-key", "set", "object", "surrogate", "surrogate-key", "nested-surrogate"],
)
def test_invalid_encode_of_value_without_canonical_form(value: Any, fragment: str) -> None:
    with pytest.raises(DecodeError) as exc:
        encode(value)
    assert fragment in exc.value.message


@settings(max_examples=500, deadline=None)
@given(st.binary(min_size=0, max_size=64))
def test_arbitrary_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    try:
        value = decode(data)
    except DecodeError as exc:
        assert exc.message
    else:
        assert encode(value) == data


@settings(max_examples=200, deadline=None)
@given(values(3), st.integers(0, 10_000), st.integers(1, 255))
def test_one_byte_change_never_yields_a_second_encoding(value: Any, where: int, delta: int) -> None:
    data = bytearray(encode(value))
    data[where % len(data)] = (data[where % len(data)] + delta) % 256
    try:
        decoded = decode(bytes(data))
    except DecodeError:
        return
    assert encode(decoded) == bytes(data)
