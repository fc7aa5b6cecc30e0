"""UnixFS file DAGs: chunking, kubo-identical root CIDs, node codec, DAG walking."""

from __future__ import annotations

import functools
import hashlib
import io
import tracemalloc
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.cid import DAG_PB, RAW, cid_codec, cid_from_str, cid_to_str, make_cid
from protocol.errors import DecodeError
from protocol.unixfs import (
    CHUNK_SIZE,
    MAX_LINKS,
    Chunker,
    DagBuilder,
    DagResult,
    FileNode,
    dag_of_bytes,
    decode_file_node,
    encode_file_node,
    iter_leaf_cids,
    root_cid_of_file,
    root_cid_of_stream,
)

K = CHUNK_SIZE
MiB = 1 << 20

# ------------------------------------------------------------ deterministic inputs


def pattern(n: int) -> bytes:
    """byte i = (i*31 + 7) % 256 (period 256, so every full chunk is identical)."""
    period = bytes((i * 31 + 7) % 256 for i in range(256))
    return (period * (n // 256 + 1))[:n]


@functools.cache
def _shake_stream() -> bytes:
    return hashlib.shake_128(b"audiera-cid-test").digest(175 * K + 100_000)


def shake(n: int) -> memoryview:
    """First n bytes of SHAKE-128("audiera-cid-test"): every chunk differs."""
    return memoryview(_shake_stream())[:n]


def audiera(n: int) -> bytes:
    return (b"audiera" * (n // 7 + 1))[:n]


# Root CIDs computed independently with the JS implementation of `ipfs add`:
# ipfs-unixfs-importer 17.1.1 (+ @ipld/dag-pb 4.2.0, ipfs-unixfs 13.1.1) with
# {cidVersion: 1, rawLeaves: true, reduceSingleLeafToSelf: true,
#  chunker: fixedSize({chunkSize: 262144}), layout: balanced({maxChildrenPerNode: 174})},
# i.e. kubo's `ipfs add --cid-version=1 --raw-leaves` defaults.
REFERENCE = [
    # (input rule, size, root CID)
    ("empty", 0, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"),
    ("pattern", 1, "bafkreigkgwdvr5wspzwpiutssn4xpj2i7wedshnwphhnu7ohx4pqaxxipe"),
    ("hello world", 11, "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"),
    ("pattern", K - 1, "bafkreig7abh4ml4jk6iylhvnfwkcbg23bjtsedukqquj54xn6fwj25wr6u"),
    ("pattern", K, "bafkreigtb2zed6k6pq34amzfdj4ovylbble3alojsysuiikydagtlammdm"),
    ("pattern", K + 1, "bafybeif4z4ikxldcsjhv2l4sxmk57abnwjkwpa57gopqjvdhkyxddhmzf4"),
    ("pattern", 3 * K + 5, "bafybeif6z6fvklgvgtoliqiyzaokn45al2lwk5ghgsg5ufesun555cuk2u"),
    ("shake", 3 * K + 5, "bafybeidczbzzuaokrwvt63yj4ml3ev7tgjbqmjllkvtq3rspewrmj6muem"),
    ("audiera", 1_000_000, "bafybeieixv7boebvrxfcaln3fmonpjxsxvxp3su5mw2ohogo367uvozr5u"),
    # exactly one full node of 174 leaves: still depth 1
    ("shake", 174 * K, "bafybeib22ky4yoydlw47i2tgfflmydrirjjwyo6wnmqyvqocb24tv7tmwe"),
    # one byte more: depth 2, root = [full node, node over one 1-byte leaf]
    ("shake", 174 * K + 1, "bafybeihelmidd6uspbtbv45feusmkjddlrbjzlrevmyb3or2kt4fjjqmoy"),
    # 176 leaves, the last one partial
    ("shake", 175 * K + 100_000, "bafybeidtyskaa3wgpqw5wymb43kl5gxdotzf4vep3cdt5dw3k7yykyn3ni"),
]
_RULES = {
    "empty": lambda n: b"",
    "hello world": lambda n: b"hello world",
    "pattern": pattern,
    "shake": shake,
    "audiera": audiera,
}


def reference_input(rule: str, size: int) -> bytes | memoryview:
    data = _RULES[rule](size)
    assert len(data) == size
    return data


def reference_cid(rule: str, size: int) -> str:
    return next(cid for r, n, cid in REFERENCE if (r, n) == (rule, size))


# Same importer with chunkSize 64 and maxChildrenPerNode 3, data = shake(n): small
# parameters reach depth 3-5, which real 256 KiB x 174 files only do past 7.9 GB.
SMALL_REFERENCE = [
    (64, "bafkreicux4woe4vxadh3ej7qlr2mitcge4vhlulezpeazzc45mebnabwnu"),
    (65, "bafybeifqw5vcchu2y5x6pydvz76vpand6hydmafv7vhs3blbxtlfibbdum"),
    (192, "bafybeifnqgw3hd6usl2nlbdaflcrf6vosyudj5a66lj6o6ntgzqtytamhe"),
    (193, "bafybeidz2dphfeo5zsqjpzeq6ukk5vp553g3ovwliha3af7acrkpclx4wa"),
    (576, "bafybeihmpynw6dbxvdv7r22swia2dmvuifmmxijfspdaqxwuwnqxrknl54"),
    (577, "bafybeiadjlemdk4l6oxgsu3s35nzktg7em3zr7fyixzrjgqo5x3xgkct7m"),
    (1728, "bafybeifmsvytjbluirj3hulkqjwjn2cllp7xp4s46jpld2v5vgdp2k3kca"),
    (1729, "bafybeiggz2owke4nijahksti32o7lr3lump733kcvvdrivmnlcaz5peo6q"),
    (3466, "bafybeibi5a7txcvlioyaftmqajuecpy4uvdjrhlvoe4pa5dmr3xurddszy"),
]


def build(data: bytes | memoryview, chunk_size: int = K, max_links: int = MAX_LINKS) -> DagResult:
    builder = DagBuilder(chunk_size=chunk_size, max_links=max_links)
    view = memoryview(data)
    for start in range(0, len(view), chunk_size):
        builder.add_leaf(view[start : start + chunk_size])
    return builder.finish()


def store_of(result: DagResult) -> dict[bytes, bytes]:
    return dict(result.nodes)


# ------------------------------------------------------------ known CIDs


@pytest.mark.parametrize(
    "rule, size, expected", REFERENCE, ids=[f"{rule}-{size}" for rule, size, _ in REFERENCE]
)
def test_reference_root_cids(rule: str, size: int, expected: str) -> None:
    result = build(reference_input(rule, size))
    assert cid_to_str(result.root) == expected
    assert result.size == size


@pytest.mark.parametrize("size, expected", SMALL_REFERENCE)
def test_reference_root_cids_deep_trees(size: int, expected: str) -> None:
    assert cid_to_str(build(shake(size), chunk_size=64, max_links=3).root) == expected


def _kubo_test_stream(seed: str, size: int, piece: int) -> Iterator[bytes]:
    """kubo test/cli/testutils DeterministicRandomReaderBytes: ChaCha20 keystream,
    key = sha256(seed), zero nonce and counter."""
    algorithms = pytest.importorskip("cryptography.hazmat.primitives.ciphers.algorithms")
    from cryptography.hazmat.primitives.ciphers import Cipher

    key = hashlib.sha256(seed.encode()).digest()
    encryptor = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor()
    zeros = bytes(piece)
    while size > 0:
        n = min(piece, size)
        yield encryptor.update(zeros[:n])
        size -= n


@pytest.mark.parametrize(
    "size, expected",
    [
        # kubo test/cli/add_test.go, "ipfs init --profile=test-cid-v1" (CIDv1, raw
        # leaves, sha2-256, size-1048576 chunker, 174 links), seed "v1-seed":
        # values produced by kubo (Go) itself.
        (174 * MiB, "bafybeigwduxcf2aawppv3isnfeshnimkyplvw3hthxjhr2bdeje4tdaicu"),
        (175 * MiB, "bafybeidhd7lo2n2v7lta5yamob3xwhbxcczmmtmhquwhjesi35jntf7mpu"),
    ],
)
def test_kubo_published_vectors(size: int, expected: str) -> None:
    builder = DagBuilder(chunk_size=MiB)
    for leaf in _kubo_test_stream("v1-seed", size, MiB):
        builder.add_leaf(leaf)
    assert cid_to_str(builder.finish().root) == expected


def _go_balanced_root(leaves: list[bytes], max_links: int) -> bytes:
    """Line-by-line model of boxo importer/balanced Layout + fillNodeRec."""
    pos = 0

    def done() -> bool:
        return pos >= len(leaves)

    def new_leaf() -> tuple[bytes, int, int]:
        nonlocal pos
        data = leaves[pos]
        pos += 1
        return make_cid(RAW, data), len(data), len(data)

    def commit(children: list[tuple[bytes, int, int]]) -> tuple[bytes, int, int]:
        node = FileNode(
            links=tuple((c, t) for c, t, _ in children),
            blocksizes=tuple(f for _, _, f in children),
            filesize=sum(f for _, _, f in children),
        )
        encoded = encode_file_node(node)
        tsize = len(encoded) + sum(t for _, t, _ in children)
        return make_cid(DAG_PB, encoded), tsize, node.filesize

    def fill(children: list[tuple[bytes, int, int]], depth: int) -> list[tuple[bytes, int, int]]:
        while len(children) < max_links and not done():
            children.append(new_leaf() if depth == 1 else commit(fill([], depth - 1)))
        return children

    if done():
        return make_cid(RAW, b"")
    root = new_leaf()
    depth = 1
    while not done():
        root = commit(fill([root], depth))
        depth += 1
    return root[0]


@settings(max_examples=150, deadline=None)
@given(leaf_count=st.integers(0, 130), tail=st.integers(0, 7), max_links=st.integers(2, 5))
def test_streaming_builder_matches_go_algorithm(leaf_count: int, tail: int, max_links: int) -> None:
    data = bytes(shake(leaf_count * 8 + tail))
    leaves = [data[i : i + 8] for i in range(0, len(data), 8)]
    expected = _go_balanced_root(leaves, max_links)
    assert build(data, chunk_size=8, max_links=max_links).root == expected


# ------------------------------------------------------------ builder behaviour


def test_single_leaf_and_empty_file() -> None:
    one = build(b"x")
    assert one.root == make_cid(RAW, b"x") and one.nodes == () and one.size == 1
    empty = DagBuilder().finish()
    assert empty == DagResult(root=make_cid(RAW, b""), size=0, nodes=())
    explicit_empty = DagBuilder()
    assert explicit_empty.add_leaf(b"") == make_cid(RAW, b"")
    assert explicit_empty.finish() == empty


def test_add_leaf_returns_raw_cids() -> None:
    builder = DagBuilder(chunk_size=4)
    assert builder.add_leaf(b"abcd") == make_cid(RAW, b"abcd")
    assert builder.add_leaf(b"ef") == make_cid(RAW, b"ef")


def test_builder_rejects_misuse() -> None:
    builder = DagBuilder(chunk_size=4)
    builder.add_leaf(b"ab")
    with pytest.raises(ValueError, match="only the last leaf"):
        builder.add_leaf(b"abcd")
    with pytest.raises(ValueError, match="exceeds the chunk size"):
        DagBuilder(chunk_size=4).add_leaf(b"abcde")
    full_then_empty = DagBuilder(chunk_size=4)
    full_then_empty.add_leaf(b"abcd")
    with pytest.raises(ValueError, match="empty leaf"):
        full_then_empty.add_leaf(b"")
    done = DagBuilder()
    done.finish()
    with pytest.raises(ValueError, match="finish"):
        done.add_leaf(b"x")
    with pytest.raises(ValueError, match="finish"):
        done.finish()
    with pytest.raises(ValueError):
        DagBuilder(max_links=1)


def test_nodes_are_complete_and_canonical() -> None:
    result = build(shake(175 * K + 100_000))
    # 176 leaves -> [174-leaf node, 2-leaf node] under a root
    assert len(result.nodes) == 3
    assert result.nodes[-1][0] == result.root
    for cid, encoded in result.nodes:
        assert cid == make_cid(DAG_PB, encoded)
        assert encode_file_node(decode_file_node(encoded)) == encoded
    root = decode_file_node(store_of(result)[result.root])
    assert root.blocksizes == (174 * K, K + 100_000)
    assert root.filesize == result.size
    first_child = store_of(result)[root.links[0][0]]
    # Tsize = the child's encoded bytes + all leaf bytes below it
    assert root.links[0][1] == len(first_child) + 174 * K


def test_internal_node_bytes() -> None:
    """Links before Data, empty Name present, non-packed blocksizes (go-merkledag)."""
    result = build(b"abcdefghij", chunk_size=4)
    (cid, encoded), = result.nodes
    leaf_cids = [make_cid(RAW, part) for part in (b"abcd", b"efgh", b"ij")]

    def link(leaf: bytes, size: int) -> bytes:
        body = b"\x0a\x24" + leaf + b"\x12\x00" + b"\x18" + bytes((size,))
        return b"\x12" + bytes((len(body),)) + body

    unixfs = b"\x08\x02" + b"\x18\x0a" + b"\x20\x04" + b"\x20\x04" + b"\x20\x02"
    expected = b"".join(link(c, s) for c, s in zip(leaf_cids, (4, 4, 2)))
    expected += b"\x0a" + bytes((len(unixfs),)) + unixfs
    assert encoded == expected
    assert cid == result.root


def test_builder_does_not_keep_leaf_data() -> None:
    tracemalloc.start()
    try:
        builder = DagBuilder()
        for i in range(180):  # 45 MB passes through, one leaf alive at a time
            builder.add_leaf(bytes((i,)) * K)
        result = builder.finish()
        current, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.size == 180 * K
    assert current < 1_000_000


def test_dag_of_bytes() -> None:
    assert cid_to_str(dag_of_bytes(pattern(3 * K + 5)).root) == reference_cid("pattern", 3 * K + 5)


# ------------------------------------------------------------ chunker


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=400),
    chunk_size=st.integers(1, 40),
    cuts=st.lists(st.integers(0, 400), max_size=30),
)
def test_chunker_random_pieces(data: bytes, chunk_size: int, cuts: list[int]) -> None:
    bounds = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    chunker = Chunker(chunk_size)
    leaves: list[bytes] = []
    for start, end in zip(bounds, bounds[1:]):
        leaves += chunker.feed(data[start:end])
    leaves += chunker.feed(b"")
    tail = chunker.flush()
    assert all(len(leaf) == chunk_size for leaf in leaves)
    if tail is not None:
        assert 0 < len(tail) < chunk_size
        leaves.append(tail)
    assert leaves == [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)]
    assert chunker.flush() is None


@settings(max_examples=10, deadline=None)
@given(pieces=st.lists(st.integers(1, 3 * K), min_size=1, max_size=6))
def test_chunker_full_size_random_pieces(pieces: list[int]) -> None:
    data = bytes(shake(sum(pieces)))
    chunker = Chunker()
    leaves: list[bytes] = []
    pos = 0
    for size in pieces:
        leaves += chunker.feed(memoryview(data)[pos : pos + size])
        pos += size
    tail = chunker.flush()
    leaves += [tail] if tail is not None else []
    assert b"".join(leaves) == data
    assert all(len(leaf) == K for leaf in leaves[:-1])


def test_chunker_accepts_buffers() -> None:
    chunker = Chunker(4)
    assert chunker.feed(bytearray(b"abcdef")) == [b"abcd"]
    assert chunker.feed(memoryview(b"gh")) == [b"efgh"]
    assert chunker.flush() is None


# ------------------------------------------------------------ stream / file helpers


class _TrickleReader(io.RawIOBase):
    """Returns short reads, like a pipe or socket."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, 99_991) if size >= 0 else 99_991)


def test_root_cid_of_stream_and_file(tmp_path) -> None:
    data = bytes(shake(3 * K + 5))
    expected = reference_cid("shake", 3 * K + 5)
    assert root_cid_of_stream(io.BytesIO(data)) == (expected, len(data))
    assert root_cid_of_stream(_TrickleReader(data)) == (expected, len(data))
    assert root_cid_of_stream(io.BytesIO(b"")) == (reference_cid("empty", 0), 0)
    path = tmp_path / "track.flac"
    path.write_bytes(data)
    assert root_cid_of_file(path) == expected
    assert root_cid_of_file(str(path)) == expected


# ------------------------------------------------------------ decoding


def _pb_link(cid: bytes, tsize: int, name: bytes = b"") -> bytes:
    body = b"\x0a" + bytes((len(cid),)) + cid + b"\x12" + bytes((len(name),)) + name
    return body + b"\x18" + bytes((tsize,))


def _pb_node(links: list[bytes], unixfs: bytes) -> bytes:
    out = b"".join(b"\x12" + bytes((len(link),)) + link for link in links)
    return out + b"\x0a" + bytes((len(unixfs),)) + unixfs


LEAF = make_cid(RAW, b"abcd")
GOOD_LINK = _pb_link(LEAF, 4)
GOOD_UNIXFS = b"\x08\x02\x18\x04\x20\x04"


def test_decode_minimal_node() -> None:
    node = decode_file_node(_pb_node([GOOD_LINK], GOOD_UNIXFS))
    assert node == FileNode(links=((LEAF, 4),), blocksizes=(4,), filesize=4)
    # an absent Name is the same as an empty one
    no_name = b"\x0a\x24" + LEAF + b"\x18\x04"
    assert decode_file_node(_pb_node([no_name], GOOD_UNIXFS)) == node


@pytest.mark.parametrize(
    "encoded, fragment",
    [
        (b"", "missing Data"),
        (_pb_node([GOOD_LINK], GOOD_UNIXFS)[:-1], "runs past the end"),
        (b"\x0a\x06" + GOOD_UNIXFS + b"\x12\x2a" + GOOD_LINK, "Links must come before Data"),
        (_pb_node([GOOD_LINK], GOOD_UNIXFS) + b"\x18\x01", "after Data"),
        (b"\x1a\x00" + _pb_node([GOOD_LINK], GOOD_UNIXFS), "unexpected field 3"),
        (_pb_node([b"\x12\x00\x18\x04"], GOOD_UNIXFS), "expected Hash"),
        (_pb_node([_pb_link(LEAF, 4, b"x")], GOOD_UNIXFS), "empty Name"),
        (_pb_node([b"\x0a\x24" + LEAF + b"\x12\x00"], GOOD_UNIXFS), "Tsize"),
        (_pb_node([GOOD_LINK + b"\x20\x01"], GOOD_UNIXFS), "after Tsize"),
        (_pb_node([_pb_link(LEAF[:-1], 4)], GOOD_UNIXFS), "bad Hash: truncated CID"),
        (_pb_node([_pb_link(b"\x01\x71" + LEAF[2:], 4)], GOOD_UNIXFS), "unknown codec 0x71"),
        (_pb_node([_pb_link(LEAF, 5)], GOOD_UNIXFS), "Tsize 5 differs from its blocksize 4"),
        (_pb_node([GOOD_LINK], b"\x08\x01\x18\x04\x20\x04"), "type 1 is not File"),
        (_pb_node([GOOD_LINK], b"\x18\x04\x20\x04"), "expected Type"),
        (_pb_node([GOOD_LINK], b"\x08\x02\x12\x01x\x18\x04\x20\x04"), "inline file data"),
        (_pb_node([GOOD_LINK], b"\x08\x02\x20\x04"), "missing filesize"),
        # packed blocksizes: neither kubo nor the JS importer writes them
        (_pb_node([GOOD_LINK], b"\x08\x02\x18\x04\x22\x01\x04"), "field 4 with wire type 2"),
        (_pb_node([GOOD_LINK], b"\x08\x02\x20\x04\x18\x04"), "out of order"),
        (_pb_node([GOOD_LINK], b"\x08\x02\x18\x04\x18\x04\x20\x04"), "out of order or repeated"),
        (_pb_node([GOOD_LINK], b"\x08\x02\x18\x04\x20\x04\x38\xa4\x03"), "unsupported field 7"),
        (_pb_node([GOOD_LINK], b"\x08\x02\x18\x05\x20\x04"), "not the sum"),
        (_pb_node([GOOD_LINK], b"\x08\x02\x18\x08\x20\x04\x20\x04"), "1 links but 2 blocksizes"),
        (_pb_node([], b"\x08\x02\x18\x00"), "no links"),
        (_pb_node([GOOD_LINK], b"\x08\x02\x18\x84\x80\x00\x20\x04"), "non-minimal"),
    ],
)
def test_decode_rejects(encoded: bytes, fragment: str) -> None:
    with pytest.raises(DecodeError, match=fragment):
        decode_file_node(encoded)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=120))
def test_decode_never_crashes(garbage: bytes) -> None:
    try:
        decode_file_node(garbage)
    except DecodeError:
        pass


# ------------------------------------------------------------ walking


def _leaves_of(data: bytes | memoryview, chunk_size: int) -> list[tuple[bytes, int]]:
    view = memoryview(data)
    return [
        (make_cid(RAW, view[i : i + chunk_size]), len(view[i : i + chunk_size]))
        for i in range(0, len(view), chunk_size)
    ]


@pytest.mark.parametrize("size", [65, 192, 577, 1729, 3466])
def test_iter_leaf_cids_deep(size: int) -> None:
    data = shake(size)
    result = build(data, chunk_size=64, max_links=3)
    walked = list(iter_leaf_cids(store_of(result).__getitem__, result.root))
    assert walked == _leaves_of(data, 64)
    assert list(iter_leaf_cids(store_of(result).__getitem__, result.root, size)) == walked


def test_iter_leaf_cids_real_sizes() -> None:
    data = shake(175 * K + 100_000)
    result = build(data)
    fetched: list[bytes] = []

    def get_node(cid: bytes) -> bytes:
        fetched.append(cid)
        return store_of(result)[cid]

    assert list(iter_leaf_cids(get_node, result.root)) == _leaves_of(data, K)
    assert len(fetched) == 3  # only internal nodes are fetched


def test_iter_leaf_cids_raw_root() -> None:
    leaf = make_cid(RAW, b"hello world")
    assert list(iter_leaf_cids({leaf: b"hello world"}.__getitem__, leaf)) == [(leaf, 11)]
    assert list(iter_leaf_cids({}.__getitem__, leaf, 11)) == [(leaf, 11)]
    empty = cid_from_str("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
    assert list(iter_leaf_cids({}.__getitem__, empty, 0)) == [(empty, 0)]


def test_iter_leaf_cids_rejects_tampered_node() -> None:
    result = build(shake(600), chunk_size=64, max_links=3)
    store = store_of(result)
    victim = result.nodes[0][0]
    store[victim] = store[victim][:-1] + b"\x00"
    with pytest.raises(DecodeError, match="does not match its CID"):
        list(iter_leaf_cids(store.__getitem__, result.root))


def test_iter_leaf_cids_rejects_wrong_child_size() -> None:
    child = build(shake(128), chunk_size=64)  # node over two 64-byte leaves
    (child_cid, child_bytes), = child.nodes
    lying = FileNode(links=((child_cid, len(child_bytes) + 128),), blocksizes=(100,), filesize=100)
    parent_bytes = encode_file_node(lying)
    parent = make_cid(DAG_PB, parent_bytes)
    store = {parent: parent_bytes, child_cid: child_bytes}
    with pytest.raises(DecodeError, match="parent says 100"):
        list(iter_leaf_cids(store.__getitem__, parent))
    with pytest.raises(DecodeError, match="parent says 999"):
        list(iter_leaf_cids(store.__getitem__, child_cid, 999))


def test_codecs_of_results() -> None:
    assert cid_codec(build(b"x").root) == RAW
    assert cid_codec(build(pattern(K + 1)).root) == DAG_PB


def test_verified_leaves_build_the_same_dag_as_hashed_leaves() -> None:
    leaves = [bytes([i]) * 4 for i in range(9)] + [b"xy"]
    hashed, verified = DagBuilder(chunk_size=4, max_links=3), DagBuilder(chunk_size=4, max_links=3)
    for leaf in leaves:
        verified.add_verified_leaf(hashed.add_leaf(leaf), len(leaf))
    assert verified.finish() == hashed.finish()


def test_verified_leaf_must_be_raw_and_follow_the_chunking() -> None:
    builder = DagBuilder(chunk_size=4)
    with pytest.raises(ValueError, match="raw block"):
        builder.add_verified_leaf(make_cid(DAG_PB, b"node"), 4)
    builder.add_verified_leaf(make_cid(RAW, b"ab"), 2)
    with pytest.raises(ValueError, match="only the last leaf"):
        builder.add_verified_leaf(make_cid(RAW, b"abcd"), 4)
