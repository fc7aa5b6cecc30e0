"""The data directory and uploaded content are the owner's alone, whatever the process umask."""

from __future__ import annotations

import os
import stat

from storage.database import open_stores


def test_content_files_and_directories_are_owner_only(tmp_path):
    data_dir = tmp_path / "node"
    data_dir.mkdir(mode=0o755)  # made by an older version, or by hand
    previous = os.umask(0o022)
    try:
        stores = open_stores(data_dir)
        try:
            ingest = stores.content.start_ingest(1 << 20)
            ingest.write(b"some audio bytes")
            cid = ingest.finish(None).cid
        finally:
            stores.close()
    finally:
        os.umask(previous)
    content = data_dir / "content"
    for directory in (data_dir, data_dir / "chain", content, content / "files", content / "tmp"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert stat.S_IMODE((content / "files" / cid).stat().st_mode) == 0o600
