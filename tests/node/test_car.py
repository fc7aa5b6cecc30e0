"""CARv1 framing and the gateway's block choice: scopes, byte ranges, duplicates."""

from __future__ import annotations

import pytest

from node.rpc.car import ByteRange, car_header, car_section, select_blocks
from protocol.cid import RAW, make_cid
from protocol.unixfs import CHUNK_SIZE, dag_of_bytes


def test_probe_header_is_the_dag_cbor_map_of_roots_and_version():
    header = car_header(bytes((0x01, 0x55, 0x00, 0x00)))
    assert header.hex() == "19a265726f6f747381d82a4500015500006776657273696f6e01"


def test_section_is_length_cid_bytes():
    cid = make_cid(RAW, b"abc")
    assert car_section(cid, b"abc") == bytes((len(cid) + 3,)) + cid + b"abc"


@pytest.mark.parametrize(
    "text, size, expected",
    [
        ("0:*", 100, (0, 99)),
        ("10:19", 100, (10, 19)),
        ("10:1000", 100, (10, 99)),
        ("-10:*", 100, (90, 99)),
        ("-1000:*", 100, (0, 99)),
        ("5:-10", 100, (5, 90)),
        ("200:*", 100, (200, 99)),
    ],
)
def test_byte_ranges_resolve_against_the_entity(text, size, expected):
    assert ByteRange.parse(text).resolve(size) == expected


@pytest.mark.parametrize("text", ["", "5", "a:b", "1:2:3", "20:10", "-5:-10", "1.5:*", "*:5", "0:" + "9" * 30])
def test_malformed_byte_ranges_are_refused(text):
    with pytest.raises(ValueError):
        ByteRange.parse(text)


def _store(data: bytes):
    dag = dag_of_bytes(data)
    blocks = dict(dag.nodes)
    for offset in range(0, len(data), CHUNK_SIZE):
        chunk = data[offset : offset + CHUNK_SIZE]
        blocks[make_cid(RAW, chunk)] = chunk
    return dag.root, blocks


def test_scopes_and_ranges_pick_the_blocks_needed():
    data = bytes(range(256)) * (CHUNK_SIZE // 256) * 3 + b"tail"
    root, blocks = _store(data)
    picked = lambda **kw: [cid for cid, _ in select_blocks(blocks.get, root, blocks[root], **kw)]  # noqa: E731
    everything = picked(scope="all", span=None, dups=True)
    assert len(everything) == 5 and everything[0] == root
    assert picked(scope="block", span=None, dups=True) == [root]
    assert picked(scope="entity", span=(CHUNK_SIZE + 1, CHUNK_SIZE + 2), dups=True) == [root, everything[2]]
    assert picked(scope="entity", span=(len(data) - 2, len(data) - 1), dups=True) == [root, everything[4]]
    assert picked(scope="entity", span=(10, 5), dups=True) == [root], "an empty range is the root alone"
    # The three full chunks are the same bytes: one leaf CID, sent once unless dups=y.
    assert len(picked(scope="all", span=None, dups=False)) == 3


def test_a_missing_block_ends_the_walk():
    data = b"x" * (CHUNK_SIZE * 2)
    root, blocks = _store(data + b"y")
    leaves = [cid for cid in blocks if cid != root]
    del blocks[leaves[-1]]
    sent = [cid for cid, _ in select_blocks(blocks.get, root, blocks[root], scope="all", span=None, dups=True)]
    assert sent[0] == root and leaves[-1] not in sent
