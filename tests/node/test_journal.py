"""The event journal: records that survive a torn tail, group commits, compaction to what still waits."""

from __future__ import annotations

import asyncio
import os
import stat

import pytest

from node.chain import journal as journal_module
from node.chain.journal import EventJournal, decode_records, encode_records


def test_records_round_trip_and_a_torn_tail_is_dropped(tmp_path):
    raws = [b"first", b"", b"x" * 70_000]
    data = encode_records(raws)
    assert decode_records(data) == (raws, len(data))
    for cut in range(1, 12):
        assert decode_records(data[:-cut])[0] == raws[:2]
    flipped = bytearray(data)
    flipped[-1] ^= 1
    assert decode_records(bytes(flipped))[0] == raws[:2], "a record whose CRC fails ends the journal"


def test_reopening_truncates_a_torn_tail_so_later_records_read(tmp_path):
    path = tmp_path / "events.journal"
    path.write_bytes(encode_records([b"one", b"two"]) + b"\x00\x00\x00\x09torn")
    journal = EventJournal(path)
    assert journal.open() == [b"one", b"two"]
    journal.append([b"three"])
    journal.close()
    reopened = EventJournal(path)
    assert reopened.open() == [b"one", b"two", b"three"]
    reopened.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_concurrent_waiters_share_fsyncs(tmp_path, monkeypatch):
    calls = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        calls.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(journal_module.os, "fsync", counting_fsync)
    journal = EventJournal(tmp_path / "events.journal")
    journal.open()

    async def submit(index: int) -> None:
        journal.append([b"event %d" % index])
        await journal.wait_durable()

    await asyncio.gather(*(submit(index) for index in range(200)))
    assert len(calls) <= 3, f"{len(calls)} fsyncs for 200 concurrent appends"
    await journal.wait_durable()
    assert len(calls) <= 3, "nothing new to sync: no fsync"
    journal.close()
    assert len(EventJournal(tmp_path / "events.journal").open()) == 200


async def test_compaction_keeps_only_what_waits_even_with_an_fsync_in_flight(tmp_path, monkeypatch):
    started, release = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        loop.call_soon_threadsafe(started.set)
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result()
        real_fsync(fd)  # on a closed descriptor this would raise EBADF

    path = tmp_path / "events.journal"
    journal = EventJournal(path)
    journal.open()
    journal.append([b"included", b"waiting"])
    monkeypatch.setattr(journal_module.os, "fsync", slow_fsync)
    durable = asyncio.ensure_future(journal.wait_durable())
    await started.wait()
    monkeypatch.setattr(journal_module.os, "fsync", real_fsync)
    journal.compact([b"waiting"])
    release.set()
    await durable
    journal.append([b"later"])
    await journal.wait_durable()
    journal.close()
    assert EventJournal(path).open() == [b"waiting", b"later"]


def test_compaction_is_due_only_after_real_growth(tmp_path, monkeypatch):
    monkeypatch.setattr(journal_module, "COMPACT_AT_BYTES", 1000)
    journal = EventJournal(tmp_path / "events.journal")
    journal.open()
    journal.append([b"x" * 600])
    assert not journal.needs_compaction()
    journal.append([b"x" * 600])
    assert journal.needs_compaction()
    journal.compact([b"x" * 600])
    assert not journal.needs_compaction(), "what still waits is not growth"
    journal.close()


@pytest.fixture(autouse=True)
def _no_leaked_descriptors():
    before = set(os.listdir("/proc/self/fd"))
    yield
    leaked = set(os.listdir("/proc/self/fd")) - before
    assert len(leaked) <= 1, leaked
