"""Sealed content framing: round trip, and every kind of tampering refused by leaf."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.cid import RAW, cid_to_str, make_cid
from protocol.sealing import (
    KEY_SIZE,
    LEAF_SIZE,
    SEALED_LEAF_SIZE,
    TAG_SIZE,
    SealBroken,
    Sealer,
    leaf_count,
    new_content_key,
    open_leaf,
    open_chunks,
    seal_chunks,
    sealed_size,
)
from protocol.unixfs import dag_of_bytes

# Sizes around the leaf boundaries, up to four leaves.
sizes = st.one_of(
    st.integers(0, 3 * LEAF_SIZE + 100),
    st.sampled_from([0, 1, LEAF_SIZE - 1, LEAF_SIZE, LEAF_SIZE + 1, 2 * LEAF_SIZE, 3 * LEAF_SIZE]),
)
keys = st.binary(min_size=KEY_SIZE, max_size=KEY_SIZE)


def plain_of(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def cid_of(data: bytes) -> str:
    return cid_to_str(dag_of_bytes(data).root)


def pieces(data: bytes, cut: int) -> list[bytes]:
    """``data`` in pieces of ``cut`` bytes, so framing never relies on how bytes arrive."""
    return [data[i : i + cut] for i in range(0, len(data), cut)]


def sealed_leaves(key: bytes, data: bytes) -> list[bytes]:
    return list(seal_chunks(key, cid_of(data), [data]))


def opened(key: bytes, cid: str, sealed: list[bytes]) -> bytes:
    return b"".join(open_chunks(key, cid, sealed))


@settings(max_examples=25, deadline=None)
@given(keys, sizes, st.integers(0, 2**32), st.integers(1, 300_000))
def test_round_trip_whatever_the_pieces(key: bytes, size: int, seed: int, cut: int) -> None:
    data = plain_of(size, seed)
    cid = cid_of(data)
    sealed = list(seal_chunks(key, cid, pieces(data, cut)))
    stream = b"".join(sealed)
    assert len(stream) == sealed_size(size)
    assert all(len(leaf) == SEALED_LEAF_SIZE for leaf in sealed[:-1])
    assert opened(key, cid, pieces(stream, cut)) == data
    assert data[:64] not in stream or size < 64


def test_an_empty_file_seals_to_one_tag() -> None:
    key = new_content_key()
    sealed = sealed_leaves(key, b"")
    assert [len(leaf) for leaf in sealed] == [TAG_SIZE]
    assert opened(key, cid_of(b""), sealed) == b""


def test_fresh_keys_differ() -> None:
    assert len({new_content_key() for _ in range(8)}) == 8


@settings(max_examples=25, deadline=None)
@given(keys, sizes, st.integers(0, 2**32), st.data())
def test_a_flipped_bit_is_refused_by_its_leaf(key: bytes, size: int, seed: int, data) -> None:
    plain = plain_of(size, seed)
    stream = bytearray(b"".join(sealed_leaves(key, plain)))
    position = data.draw(st.integers(0, len(stream) - 1))
    stream[position] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(SealBroken) as refused:
        opened(key, cid_of(plain), [bytes(stream)])
    assert refused.value.leaf == position // SEALED_LEAF_SIZE


@settings(max_examples=15, deadline=None)
@given(keys, st.integers(2 * LEAF_SIZE, 4 * LEAF_SIZE), st.integers(0, 2**32), st.data())
def test_swapped_leaves_are_refused(key: bytes, size: int, seed: int, data) -> None:
    plain = plain_of(size, seed)
    sealed = sealed_leaves(key, plain)
    first = data.draw(st.integers(0, len(sealed) - 2))
    second = data.draw(st.integers(first + 1, len(sealed) - 1))
    sealed[first], sealed[second] = sealed[second], sealed[first]
    with pytest.raises(SealBroken) as refused:
        opened(key, cid_of(plain), sealed)
    assert refused.value.leaf == first


@settings(max_examples=15, deadline=None)
@given(keys, st.integers(LEAF_SIZE + 1, 4 * LEAF_SIZE), st.integers(0, 2**32), st.data())
def test_a_dropped_leaf_is_refused(key: bytes, size: int, seed: int, data) -> None:
    plain = plain_of(size, seed)
    sealed = sealed_leaves(key, plain)
    dropped = data.draw(st.integers(0, len(sealed) - 1))
    del sealed[dropped]
    with pytest.raises(SealBroken) as refused:
        opened(key, cid_of(plain), sealed)
    assert refused.value.leaf == dropped


@settings(max_examples=15, deadline=None)
@given(keys, sizes, st.integers(0, 2**32), st.integers(1, SEALED_LEAF_SIZE))
def test_a_cut_stream_is_refused(key: bytes, size: int, seed: int, cut: int) -> None:
    plain = plain_of(size, seed)
    stream = b"".join(sealed_leaves(key, plain))
    with pytest.raises(SealBroken):
        opened(key, cid_of(plain), [stream[: max(0, len(stream) - cut)]])


@settings(max_examples=15, deadline=None)
@given(keys, sizes, st.integers(0, 2**32), st.binary(min_size=1, max_size=SEALED_LEAF_SIZE))
def test_appended_bytes_are_refused(key: bytes, size: int, seed: int, extra: bytes) -> None:
    plain = plain_of(size, seed)
    sealed = sealed_leaves(key, plain)
    with pytest.raises(SealBroken) as refused:
        opened(key, cid_of(plain), sealed + [extra])
    assert refused.value.leaf >= len(sealed) - 1


def test_a_whole_leaf_appended_after_the_final_one_is_refused() -> None:
    key = new_content_key()
    plain = plain_of(2 * LEAF_SIZE, 1)
    sealed = sealed_leaves(key, plain)
    with pytest.raises(SealBroken, match="after its final leaf 1") as refused:
        opened(key, cid_of(plain), sealed + [sealed[0]])
    assert refused.value.leaf == 2


def test_the_wrong_key_or_asset_does_not_open() -> None:
    key = new_content_key()
    plain = plain_of(LEAF_SIZE + 5, 2)
    sealed = sealed_leaves(key, plain)
    with pytest.raises(SealBroken) as refused:
        opened(new_content_key(), cid_of(plain), sealed)
    assert refused.value.leaf == 0
    other = cid_to_str(make_cid(RAW, b"another asset"))
    with pytest.raises(SealBroken):
        opened(key, other, sealed)


def test_a_key_of_the_wrong_size_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        list(seal_chunks(b"short", cid_of(b""), [b""]))


@settings(max_examples=15, deadline=None)
@given(keys, sizes, st.integers(0, 2**32), st.integers(1, 300_000))
def test_the_push_sealer_gives_the_same_stream(key: bytes, size: int, seed: int, cut: int) -> None:
    data = plain_of(size, seed)
    sealer = Sealer(key)
    pushed = [leaf for piece in pieces(data, cut) for leaf in sealer.feed(piece)]
    pushed += sealer.finish(cid_of(data))
    assert pushed == sealed_leaves(key, data)


def test_leaves_open_one_by_one_out_of_order() -> None:
    key = new_content_key()
    plain = plain_of(2 * LEAF_SIZE + 9, 3)
    cid = cid_of(plain)
    sealed = sealed_leaves(key, plain)
    assert leaf_count(len(b"".join(sealed))) == 3
    assert open_leaf(key, cid, 2, sealed[2], final=True) == plain[2 * LEAF_SIZE :]
    assert open_leaf(key, cid, 0, sealed[0], final=False) == plain[:LEAF_SIZE]
    with pytest.raises(SealBroken, match="leaf 1 is the last"):
        open_leaf(key, cid, 1, sealed[1], final=True)
    with pytest.raises(SealBroken) as refused:
        open_leaf(key, cid, 1, sealed[0], final=False)
    assert refused.value.leaf == 1
