"""Uploaded content no registration names: bounded node-wide, removed after its time to live, never once registered."""

from __future__ import annotations

import random

import pytest

from protocol.cid import cid_from_str
from protocol.unixfs import CHUNK_SIZE, iter_leaf_cids
from storage.content import ContentStore, UploadLimits
from storage.database import open_stores
from storage.errors import PendingBytesFull, PendingFilesFull, TooManyUploads

LIMITS = UploadLimits(max_concurrent=4, max_pending_bytes=10 * CHUNK_SIZE, max_pending_files=3)
TTL_MS = 60_000
BIG = 1 << 40


@pytest.fixture
def content(stores) -> ContentStore:
    return stores.content


def sample(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def upload(content: ContentStore, data: bytes, now_ms: int = 0, limits: UploadLimits = LIMITS) -> str:
    ingest = content.start_ingest(BIG, limits=limits, now_ms=now_ms)
    ingest.write(data)
    return ingest.finish(None).cid


def never_registered(cid: str) -> bool:
    return False


def readable(content: ContentStore, cid: str) -> bytes:
    """The content as served leaf by leaf, by the leaf index (what a peer fetching it gets)."""
    return b"".join(content.get_block(leaf) or b"<missing>" for leaf, _ in iter_leaf_cids(content.get_block, cid_from_str(cid)))


def test_unregistered_upload_is_removed_after_its_time_to_live(content):
    cid = upload(content, sample(3 * CHUNK_SIZE, 1), now_ms=1_000)
    assert content.sweep_pending(1_000 + TTL_MS - 1, TTL_MS, never_registered).removed == ()
    assert content.has(cid)
    assert content.sweep_pending(1_000 + TTL_MS, TTL_MS, never_registered).removed == (cid,)
    assert not content.has(cid) and content.info(cid) is None
    assert not content.path_of(cid).exists()
    assert (content.pending_bytes, content.pending_files) == (0, 0)


def test_registered_upload_is_never_removed(content):
    cid = upload(content, sample(CHUNK_SIZE + 5, 2))
    assert content.sweep_pending(10, TTL_MS, lambda c: c == cid).kept == (cid,)
    assert (content.pending_bytes, content.pending_files) == (0, 0), "registered content no longer counts as pending"
    # Even if the registration were undone later (a reorg), the content stays.
    assert content.sweep_pending(10 * TTL_MS, TTL_MS, never_registered).removed == ()
    assert content.has(cid) and content.path_of(cid).exists()


def test_content_named_by_a_waiting_registration_is_kept_pending(content):
    cid = upload(content, sample(1000, 3))
    assert content.sweep_pending(2 * TTL_MS, TTL_MS, never_registered, awaited={cid}).removed == ()
    assert content.pending_files == 1
    assert content.sweep_pending(2 * TTL_MS, TTL_MS, never_registered).removed == (cid,)


def test_fetched_content_is_never_pending(content):
    ingest = content.start_ingest(BIG)
    ingest.write(sample(1000, 4))
    cid = ingest.finish(None).cid
    assert content.sweep_pending(10 * TTL_MS, TTL_MS, never_registered).removed == ()
    assert content.has(cid) and content.pending_files == 0


def test_removing_a_file_keeps_the_leaves_another_file_shares(content):
    silence = bytes(2 * CHUNK_SIZE)
    kept_data = silence + sample(CHUNK_SIZE, 5)
    gone_data = silence + sample(CHUNK_SIZE, 6)
    gone = upload(content, gone_data, now_ms=0)  # indexed first: the shared leaf points at its file
    kept = upload(content, kept_data, now_ms=TTL_MS)
    assert content.sweep_pending(TTL_MS, TTL_MS, never_registered).removed == (gone,)
    assert readable(content, kept) == kept_data
    assert content.sweep_pending(2 * TTL_MS, TTL_MS, never_registered).removed == (kept,)
    assert content.pending_files == 0


def test_pending_files_are_capped(content):
    for seed in range(LIMITS.max_pending_files):
        upload(content, sample(100, seed))
    with pytest.raises(PendingFilesFull, match="register them or wait"):
        content.start_ingest(BIG, limits=LIMITS)
    content.sweep_pending(TTL_MS, TTL_MS, never_registered)
    upload(content, sample(100, 99))


def test_pending_bytes_are_capped_counting_uploads_in_progress(content):
    first = content.start_ingest(BIG, limits=LIMITS)
    first.write(sample(6 * CHUNK_SIZE, 7))
    second = content.start_ingest(BIG, limits=LIMITS)
    with pytest.raises(PendingBytesFull):
        second.write(sample(5 * CHUNK_SIZE, 8))
    second.abort()
    first.abort()
    assert content.pending_bytes == 0, "aborted uploads give their bytes back"
    upload(content, sample(10 * CHUNK_SIZE, 9))


def test_uploading_held_content_again_costs_nothing(content):
    data = sample(2 * CHUNK_SIZE, 10)
    upload(content, data)
    upload(content, data)
    assert (content.pending_bytes, content.pending_files) == (2 * CHUNK_SIZE, 1)


def test_concurrent_uploads_are_capped(content):
    open_uploads = [content.start_ingest(BIG, limits=LIMITS) for _ in range(LIMITS.max_concurrent - 1)]
    limits = UploadLimits(max_concurrent=LIMITS.max_concurrent - 1, max_pending_bytes=BIG, max_pending_files=100)
    with pytest.raises(TooManyUploads, match="retry shortly"):
        content.start_ingest(BIG, limits=limits)
    open_uploads[0].abort()
    content.start_ingest(BIG, limits=limits).abort()


def test_pending_totals_survive_a_restart(tmp_path):
    stores = open_stores(tmp_path / "node")
    cid = upload(stores.content, sample(1234, 11), now_ms=5)
    stores.close()
    reopened = open_stores(tmp_path / "node")
    try:
        assert (reopened.content.pending_bytes, reopened.content.pending_files) == (1234, 1)
        assert reopened.content.sweep_pending(5 + TTL_MS, TTL_MS, never_registered).removed == (cid,)
    finally:
        reopened.close()
