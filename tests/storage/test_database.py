"""open_stores: the data directory, its lock, and the stores it hands out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from storage.chain import ChainStore
from storage.content import ContentStore
from storage.database import open_stores
from storage.errors import StorageError

ROOT = Path(__file__).resolve().parents[2]


def test_open_creates_the_directory_tree(tmp_path):
    data_dir = tmp_path / "deep" / "node-data"
    assert not data_dir.exists()
    stores = open_stores(data_dir)
    try:
        assert data_dir.is_dir()
        assert (data_dir / "chain").is_dir()
        assert (data_dir / "content" / "files").is_dir()
        assert (data_dir / "content" / "tmp").is_dir()
        assert isinstance(stores.chain, ChainStore)
        assert isinstance(stores.content, ContentStore)
    finally:
        stores.close()


def test_second_open_while_first_is_open_is_refused(tmp_path):
    first = open_stores(tmp_path)
    try:
        with pytest.raises(StorageError, match="in use"):
            open_stores(tmp_path)
        # The refusal did not disturb the first opener.
        first.db.put(b"m/probe", b"1")
        assert first.db.get(b"m/probe") == b"1"
    finally:
        first.close()


def test_reopen_after_close_keeps_data(tmp_path):
    stores = open_stores(tmp_path)
    stores.db.put(b"m/probe", b"kept")
    stores.close()
    again = open_stores(tmp_path)
    try:
        assert again.db.get(b"m/probe") == b"kept"
    finally:
        again.close()


def test_second_open_from_another_process_is_refused(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_OPEN, str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(StorageError, match="in use"):
            open_stores(tmp_path)
    finally:
        holder.stdin.close()  # lets the child close its stores and exit
        holder.wait(timeout=10)
    open_stores(tmp_path).close()  # free again once the holder is gone


_HOLD_OPEN = """
import sys
from pathlib import Path
from storage.database import open_stores
stores = open_stores(Path(sys.argv[1]))
print("open", flush=True)
sys.stdin.read()
stores.close()
"""


def test_data_dir_that_is_a_file_is_a_storage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"not a directory")
    with pytest.raises(StorageError, match="cannot create"):
        open_stores(blocker)


def test_other_io_errors_are_not_reported_as_in_use(tmp_path):
    # The LOCK file's path ("…/chain/LOCK") is in LevelDB's message, and so is a data
    # directory whose name contains "lock" (e.g. ~/blockchain): neither means "in use".
    data_dir = tmp_path / "blockchain"
    data_dir.mkdir()
    (data_dir / "chain").write_bytes(b"a file where the database should be")
    with pytest.raises(StorageError) as info:
        open_stores(data_dir)
    assert "in use" not in info.value.message
    assert "cannot open the database" in info.value.message
    assert "b'" not in info.value.message  # LevelDB's text, not the repr of its bytes


def test_blockchain_named_dir_still_reports_a_held_lock(tmp_path):
    data_dir = tmp_path / "blockchain"
    first = open_stores(data_dir)
    try:
        with pytest.raises(StorageError, match="in use"):
            open_stores(data_dir)
    finally:
        first.close()
