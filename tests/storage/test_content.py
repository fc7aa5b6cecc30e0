"""ContentStore: streamed ingest to IPFS-identical CIDs, block serving, limits, leftovers."""

from __future__ import annotations

import random

import pytest

from protocol.cid import DAG_PB, RAW, cid_codec, cid_from_str, cid_to_str, is_valid_block, make_cid
from protocol.unixfs import CHUNK_SIZE, decode_file_node, iter_leaf_cids, root_cid_of_file
from storage.content import ContentInfo, ContentStore
from storage.database import open_stores
from storage.errors import ContentError, StorageError

MEDIA = {"format": "wav", "duration_ms": 1500, "sample_rate": 44100, "channels": 2}
LIMIT = 64 * 1024 * 1024


@pytest.fixture
def content(stores) -> ContentStore:
    return stores.content


def sample(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


THREE_AND_A_BIT = 3 * CHUNK_SIZE + 12_345


def reference_cid(tmp_path, data: bytes) -> str:
    path = tmp_path / f"reference-{len(data)}.bin"
    path.write_bytes(data)
    return root_cid_of_file(path)


def ingest(content: ContentStore, data: bytes, pieces: list[int] | None = None, media=MEDIA, max_bytes=LIMIT) -> ContentInfo:
    upload = content.start_ingest(max_bytes)
    pos = 0
    for size in pieces or []:
        upload.write(data[pos : pos + size])
        pos += size
    if pos < len(data):
        upload.write(data[pos:])
    upload.close_file()
    return upload.finish(media)


def random_pieces(total: int, rng: random.Random) -> list[int]:
    pieces, left = [], total
    while left > 0:
        size = min(left, rng.choice([1, 2, 100, 4095, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, rng.randint(1, 600_000)]))
        pieces.append(size)
        left -= size
    return pieces


def tmp_files(content: ContentStore) -> list:
    return sorted(content._tmp.iterdir())


def stored_files(content: ContentStore) -> list:
    return sorted(content._files.iterdir())


# --- CIDs -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_root_cid_matches_unixfs_whatever_the_piece_sizes(tmp_path, content, seed):
    data = sample(THREE_AND_A_BIT, seed)
    expected = reference_cid(tmp_path, data)
    info = ingest(content, data, random_pieces(len(data), random.Random(seed)))
    assert info.cid == expected
    assert info.cid.startswith("bafy")  # dag-pb root over several raw leaves
    assert info.size == len(data)


def test_one_write_and_tiny_writes_give_the_same_cid(tmp_path, stores):
    data = sample(CHUNK_SIZE + 10, seed=5)
    expected = reference_cid(tmp_path, data)
    assert ingest(stores.content, data).cid == expected
    other = open_stores(tmp_path / "other")
    try:
        assert ingest(other.content, data, [1] * 1000 + [CHUNK_SIZE - 1000]).cid == expected
    finally:
        other.close()


@pytest.mark.parametrize("size", [1, 1000, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE])
def test_sizes_around_the_chunk_boundary(tmp_path, content, size):
    data = sample(size, seed=size)
    info = ingest(content, data, random_pieces(size, random.Random(size)))
    assert info.cid == reference_cid(tmp_path, data)
    expected_codec = RAW if size <= CHUNK_SIZE else DAG_PB
    assert cid_codec(cid_from_str(info.cid)) == expected_codec
    assert_serves_file(content, info, data)


def test_empty_file(tmp_path, content):
    info = ingest(content, b"")
    assert info.cid == reference_cid(tmp_path, b"")
    assert info.size == 0
    assert content.path_of(info.cid).read_bytes() == b""
    # The empty raw block is served like any other leaf (IPFS serves it too).
    assert content.get_block(cid_from_str(info.cid)) == b""
    assert_serves_file(content, info, b"")


# --- serving blocks -----------------------------------------------------------------------


def assert_serves_file(content: ContentStore, info: ContentInfo, data: bytes) -> None:
    root = cid_from_str(info.cid)

    def fetch(cid: bytes) -> bytes:
        block = content.get_block(cid)
        assert block is not None, f"block {cid_to_str(cid)} is not served"
        return block

    rebuilt = bytearray()
    for leaf_cid, size in iter_leaf_cids(fetch, root, info.size):
        assert cid_codec(leaf_cid) == RAW
        block = fetch(leaf_cid)
        assert is_valid_block(leaf_cid, block)
        assert len(block) == size
        rebuilt += block
    assert bytes(rebuilt) == data
    assert content.path_of(info.cid).read_bytes() == data


def test_every_leaf_and_node_is_served_and_valid(content):
    data = sample(THREE_AND_A_BIT, seed=7)
    info = ingest(content, data, [CHUNK_SIZE // 3] * 10)
    assert_serves_file(content, info, data)
    root = cid_from_str(info.cid)
    node_bytes = content.get_block(root)
    assert is_valid_block(root, node_bytes)
    node = decode_file_node(node_bytes)
    assert node.filesize == len(data)
    assert node.blocksizes == (CHUNK_SIZE, CHUNK_SIZE, CHUNK_SIZE, 12_345)
    for (leaf_cid, _), start in zip(node.links, range(0, len(data), CHUNK_SIZE)):
        assert content.get_block(leaf_cid) == data[start : start + CHUNK_SIZE]


def leaves_of(data: bytes) -> list[tuple[bytes, bytes]]:
    pieces = [data[i : i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE)] or [b""]
    return [(make_cid(RAW, piece), piece) for piece in pieces]


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE, THREE_AND_A_BIT, 17 * CHUNK_SIZE])
def test_verified_leaves_store_the_same_file_as_an_upload(tmp_path, content, size):
    data = sample(size, seed=size)
    upload = content.start_ingest(LIMIT)
    leaves = leaves_of(data)
    for start in range(0, len(leaves), 3):  # as a fetch writes them: a few per answer
        upload.write_verified_leaves(leaves[start : start + 3])
    upload.close_file()
    info = upload.finish(MEDIA)
    assert info.cid == reference_cid(tmp_path, data)
    assert info.size == size
    assert_serves_file(content, info, data)


def test_verified_leaves_out_of_chunking_are_refused(content):
    short_first = content.start_ingest(LIMIT)
    with pytest.raises(ContentError, match="chunking"):
        short_first.write_verified_leaves(leaves_of(b"ab") + leaves_of(sample(CHUNK_SIZE)))
    short_first.abort()
    after_partial = content.start_ingest(LIMIT)
    after_partial.write(b"abc")
    with pytest.raises(ContentError, match="partial chunk"):
        after_partial.write_verified_leaves(leaves_of(sample(CHUNK_SIZE)))
    after_partial.abort()
    too_big = content.start_ingest(CHUNK_SIZE)
    too_big.write_verified_leaves(leaves_of(sample(CHUNK_SIZE)))
    with pytest.raises(ContentError, match="limit"):
        too_big.write_verified_leaves(leaves_of(b"x"))
    assert too_big.size == CHUNK_SIZE
    too_big.abort()
    assert tmp_files(content) == [] and stored_files(content) == []


def test_unknown_block_and_content(content):
    assert content.get_block(b"\x01\x55\x12\x20" + b"\x00" * 32) is None
    unknown = cid_to_str(b"\x01\x55\x12\x20" + b"\x11" * 32)
    assert content.info(unknown) is None
    assert not content.has(unknown)


def test_flat_file_and_info(content):
    data = sample(2 * CHUNK_SIZE + 1, seed=9)
    info = ingest(content, data, media=MEDIA)
    assert content.path_of(info.cid).read_bytes() == data
    assert stored_files(content) == [content.path_of(info.cid)]
    assert tmp_files(content) == []
    assert content.has(info.cid)
    assert content.info(info.cid) == ContentInfo(cid=info.cid, size=len(data), media=MEDIA)
    assert content.info(info.cid).to_wire() == {
        "cid": None, "size": None, "sealed_cid": info.cid, "sealed_size": len(data), "media": MEDIA
    }
    dataset = ingest(content, b"not audio at all", media=None)
    assert content.info(dataset.cid) == ContentInfo(cid=dataset.cid, size=16, media=None)


def test_same_bytes_twice_is_idempotent(content, stores):
    data = sample(THREE_AND_A_BIT, seed=11)
    first = ingest(content, data, [1000, 500_000])
    snapshot = list(stores.db.iterator())
    second = ingest(content, data, random_pieces(len(data), random.Random(3)), media={"other": "facts"})
    assert second == first  # same CID, and the facts recorded the first time
    assert stored_files(content) == [content.path_of(first.cid)]
    assert tmp_files(content) == []
    assert list(stores.db.iterator()) == snapshot
    assert_serves_file(content, first, data)


def test_files_sharing_leaves(content):
    shared = sample(CHUNK_SIZE, seed=12)
    a = shared + sample(CHUNK_SIZE // 2, seed=13)
    b = shared + sample(CHUNK_SIZE + 7, seed=14)
    info_a = ingest(content, a)
    info_b = ingest(content, b)
    assert info_a.cid != info_b.cid
    assert_serves_file(content, info_a, a)
    assert_serves_file(content, info_b, b)


def test_interleaved_uploads(tmp_path, content):
    one, two = sample(CHUNK_SIZE * 2 + 3, seed=15), sample(CHUNK_SIZE + 99, seed=16)
    up1, up2 = content.start_ingest(LIMIT), content.start_ingest(LIMIT)
    for start in range(0, max(len(one), len(two)), 100_000):
        up1.write(one[start : start + 100_000])
        up2.write(two[start : start + 100_000])
    up2.close_file()
    up1.close_file()
    info2, info1 = up2.finish(None), up1.finish(MEDIA)
    assert info1.cid == reference_cid(tmp_path, one)
    assert info2.cid == reference_cid(tmp_path, two)
    assert_serves_file(content, info1, one)
    assert_serves_file(content, info2, two)


def test_finish_without_close_file_still_indexes_the_whole_file(tmp_path, content):
    data = sample(CHUNK_SIZE + 1234, seed=17)
    upload = content.start_ingest(LIMIT)
    upload.write(data)
    info = upload.finish(MEDIA)
    assert info.cid == reference_cid(tmp_path, data)
    assert_serves_file(content, info, data)


def test_content_survives_reopen(tmp_path):
    data = sample(THREE_AND_A_BIT, seed=18)
    stores = open_stores(tmp_path)
    info = ingest(stores.content, data)
    stores.close()
    again = open_stores(tmp_path)
    try:
        assert again.content.info(info.cid) == info
        assert_serves_file(again.content, info, data)
    finally:
        again.close()


# --- limits and leftovers ----------------------------------------------------------------


def test_exceeding_max_bytes_is_refused_and_abort_cleans_up(content, stores):
    snapshot = list(stores.db.iterator())
    upload = content.start_ingest(max_bytes=CHUNK_SIZE + 100)
    assert upload.temp_path.exists()
    upload.write(sample(CHUNK_SIZE, seed=19))
    with pytest.raises(ContentError, match="limit") as refused:
        upload.write(sample(101, seed=20))
    assert isinstance(refused.value, StorageError)
    assert upload.size == CHUNK_SIZE  # the refused piece was not counted
    upload.abort()
    assert not upload.temp_path.exists()
    assert tmp_files(content) == []
    assert stored_files(content) == []
    assert list(stores.db.iterator()) == snapshot
    upload.abort()  # twice is harmless


def test_exactly_max_bytes_is_accepted(tmp_path, content):
    data = sample(CHUNK_SIZE + 100, seed=21)
    info = ingest(content, data, [CHUNK_SIZE, 100], max_bytes=len(data))
    assert info.cid == reference_cid(tmp_path, data)


def test_abort_after_close_file_and_abort_of_empty_upload(content):
    upload = content.start_ingest(LIMIT)
    upload.write(b"abc")
    upload.close_file()
    upload.abort()
    fresh = content.start_ingest(LIMIT)
    fresh.abort()
    assert tmp_files(content) == []
    assert stored_files(content) == []


def test_remove_partial_uploads(tmp_path):
    stores = open_stores(tmp_path)
    # An upload cut off mid-way (the node died): its temporary file stays behind.
    upload = stores.content.start_ingest(LIMIT)
    upload.write(sample(CHUNK_SIZE + 5, seed=22))
    upload._file.close()
    kept = ingest(stores.content, b"kept content")
    stores.close()

    again = open_stores(tmp_path)
    try:
        (again.content._tmp / "stray.part").write_bytes(b"x")
        assert len(tmp_files(again.content)) == 2
        assert again.content.remove_partial_uploads() == 2
        assert tmp_files(again.content) == []
        assert again.content.remove_partial_uploads() == 0
        # Finished content is untouched.
        assert again.content.path_of(kept.cid).read_bytes() == b"kept content"
        assert again.content.info(kept.cid) == kept
    finally:
        again.close()
