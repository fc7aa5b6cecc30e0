"""Uploads sealed as they arrive: only the sealed stream reaches the disk, under its own CID."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

from protocol.cid import cid_from_str, cid_to_str
from protocol.sealing import LEAF_SIZE, SealBroken, new_content_key, open_chunks, sealed_size
from protocol.unixfs import CHUNK_SIZE, dag_of_bytes, iter_leaf_cids
from storage.content import ContentStore, UploadLimits

LIMITS = UploadLimits(max_concurrent=4, max_pending_bytes=64 * CHUNK_SIZE, max_pending_files=3)
TTL_MS = 60_000
WINDOW = 4096


@pytest.fixture
def content(stores) -> ContentStore:
    return stores.content


def sample(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def sealed_upload(content: ContentStore, data: bytes, key: bytes, pieces: int = 100_003, now_ms: int = 0):
    ingest = content.start_ingest(1 << 40, limits=LIMITS, now_ms=now_ms, key=key)
    for start in range(0, len(data), pieces):
        ingest.write(data[start : start + pieces])
    ingest.close_file()
    return ingest


def every_stored_byte(directory: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(directory.rglob("*")) if path.is_file())


def test_an_upload_is_stored_sealed_under_its_sealed_cid(content, tmp_path):
    data = sample(3 * LEAF_SIZE + 777, 1)
    key = new_content_key()
    ingest = sealed_upload(content, data, key)
    info = ingest.finish(None)
    plain_cid = cid_to_str(dag_of_bytes(data).root)
    stored = content.path_of(info.cid).read_bytes()
    assert info.asset == plain_cid and info.asset_size == len(data)
    assert info.cid == cid_to_str(dag_of_bytes(stored).root) != plain_cid
    assert info.size == len(stored) == sealed_size(len(data))
    assert b"".join(open_chunks(key, plain_cid, [stored])) == data
    assert content.info(plain_cid) == info, "the asset id finds its sealed content"
    served = b"".join(content.get_block(leaf) for leaf, _ in iter_leaf_cids(content.get_block, cid_from_str(info.cid)))
    assert served == stored
    assert content.get_block(dag_of_bytes(data[:CHUNK_SIZE]).root) is None, "no plain leaf is served"


def test_no_window_of_the_plain_bytes_reaches_the_disk(content, tmp_path):
    data = sample(2 * LEAF_SIZE + 5, 2)
    ingest = sealed_upload(content, data, new_content_key())
    written_before_commit = every_stored_byte(tmp_path)
    ingest.finish(None)
    on_disk = written_before_commit + every_stored_byte(tmp_path)
    for start in range(0, len(data) - WINDOW, WINDOW * 16):
        assert data[start : start + WINDOW] not in on_disk


def test_the_plain_bytes_are_read_back_through_the_seal(content):
    data = sample(2 * LEAF_SIZE + 100, 3)
    ingest = sealed_upload(content, data, new_content_key())
    with ingest.open_plain() as plain:
        assert plain.read() == data
        plain.seek(LEAF_SIZE - 10)
        assert plain.read(20) == data[LEAF_SIZE - 10 : LEAF_SIZE + 10]
        plain.seek(-50, io.SEEK_END)
        assert plain.read() == data[-50:]
        assert plain.read() == b""
    ingest.finish(None)


def test_a_tampered_sealed_file_is_refused_when_read_back(content):
    data = sample(LEAF_SIZE + 100, 4)
    ingest = sealed_upload(content, data, new_content_key())
    with open(ingest.temp_path, "r+b") as file:
        file.seek(LEAF_SIZE + 20)
        file.write(b"\xff")
    with ingest.open_plain() as plain, pytest.raises(SealBroken) as refused:
        plain.read()
    assert refused.value.leaf == 1
    ingest.abort()


def test_two_uploads_of_one_file_are_two_sealed_files(content):
    data = sample(1000, 5)
    first = sealed_upload(content, data, new_content_key()).finish(None)
    second = sealed_upload(content, data, new_content_key()).finish(None)
    assert first.asset == second.asset and first.cid != second.cid
    assert content.info(first.cid) == first and content.info(second.cid) == second


def test_pending_sealed_content_is_kept_by_its_asset_registration(content):
    data = sample(LEAF_SIZE + 3, 6)
    info = sealed_upload(content, data, new_content_key(), now_ms=1_000).finish(None)
    assert content.pending_bytes == info.size
    assert content.sweep_pending(2 * TTL_MS, TTL_MS, lambda cid: False, awaited={info.asset}).removed == ()
    assert content.sweep_pending(2 * TTL_MS, TTL_MS, lambda cid: cid == info.asset).kept == (info.cid,)
    assert content.has(info.cid)


def test_expired_sealed_content_goes_with_its_asset_index(content):
    info = sealed_upload(content, sample(500, 7), new_content_key(), now_ms=0).finish(None)
    assert content.sweep_pending(TTL_MS, TTL_MS, lambda cid: False).removed == (info.cid,)
    assert content.info(info.cid) is None and content.info(info.asset) is None
    assert (content.pending_bytes, content.pending_files) == (0, 0)


def test_held_content_is_listed_and_removed_with_its_blocks_only(content):
    shared = sample(2 * LEAF_SIZE, 7)
    first = sealed_upload(content, shared + b"one", new_content_key()).finish(None)
    second = sealed_upload(content, shared + b"two", new_content_key()).finish(None)
    listed = content.list()
    assert sorted(info.cid for info in listed) == sorted([first.cid, second.cid])
    page = content.list(limit=1)
    assert len(page) == 1 and content.list(after=page[0].cid) == [info for info in listed if info.cid != page[0].cid]
    second_blocks = [leaf for leaf, _ in iter_leaf_cids(content.get_block, cid_from_str(second.cid))]
    assert content.remove(first.asset) == first, "an asset id names its sealed file"
    assert content.info(first.cid) is None and content.info(first.asset) is None
    assert not content.path_of(first.cid).exists()
    assert content.list() == [second]
    assert all(content.get_block(leaf) is not None for leaf in second_blocks), "the other file keeps every block"
    assert content.remove(first.cid) is None, "removing twice removes nothing"
    assert content.pending_files == 1 and content.pending_bytes == second.size, "a pending upload's bytes are let go"
