from __future__ import annotations

import errno
import os
import random

import pytest

from storage import direct_file
from storage.direct_file import BUFFER_SIZE, DirectFile


def pieces_of(data: bytes, sizes: list[int]) -> list[bytes]:
    out, pos = [], 0
    for size in sizes:
        out.append(data[pos : pos + size])
        pos += size
    return out + [data[pos:]] if pos < len(data) else out


SIZES = [0, 1, 4095, 4096, 262144, BUFFER_SIZE - 1, BUFFER_SIZE, BUFFER_SIZE + 1, 2 * BUFFER_SIZE + 12345]


@pytest.mark.parametrize("size", SIZES)
def test_file_holds_exactly_what_was_written(tmp_path, size):
    data = random.Random(size).randbytes(size)
    path = tmp_path / "f"
    writer = DirectFile(path)
    for piece in pieces_of(data, [1, 4095, 262144, 7, BUFFER_SIZE]):
        writer.write(piece)
    assert writer.size == size
    writer.close()
    assert writer.closed
    assert path.read_bytes() == data


def test_filesystem_without_o_direct_falls_back_to_the_page_cache(tmp_path, monkeypatch):
    real_open = os.open

    def refuse_direct(path, flags, mode=0o777):
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, mode)

    monkeypatch.setattr(direct_file.os, "open", refuse_direct)
    data = random.Random(1).randbytes(BUFFER_SIZE + 999)
    writer = DirectFile(tmp_path / "f")
    assert not writer.direct
    writer.write(data)
    writer.close()
    assert (tmp_path / "f").read_bytes() == data


def test_a_refused_direct_write_is_written_through_the_page_cache(tmp_path, monkeypatch):
    writer = DirectFile(tmp_path / "f")
    if not writer.direct:
        writer.abort()
        pytest.skip("this filesystem does not take O_DIRECT")
    real_write = os.write
    refused = []

    def refuse_first(fd, data):
        if not refused:
            refused.append(len(data))
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr(direct_file.os, "write", refuse_first)
    data = random.Random(2).randbytes(2 * BUFFER_SIZE + 5)
    writer.write(data)
    writer.close()
    assert refused == [BUFFER_SIZE] and not writer.direct
    assert (tmp_path / "f").read_bytes() == data


def test_other_write_errors_are_raised(tmp_path, monkeypatch):
    def disk_full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    writer = DirectFile(tmp_path / "f")
    monkeypatch.setattr(direct_file.os, "write", disk_full)
    writer.write(b"x" * 10)  # buffered (or written through) until a whole buffer fills
    with pytest.raises(OSError) as raised:
        writer.write(b"y" * BUFFER_SIZE)
        writer.close()
    assert raised.value.errno == errno.ENOSPC
    writer.abort()
    assert writer.closed


def test_abort_and_close_are_idempotent_and_the_path_must_be_new(tmp_path):
    path = tmp_path / "f"
    writer = DirectFile(path)
    writer.write(b"abc")
    writer.abort()
    writer.abort()
    writer.close()
    assert path.read_bytes() == b""  # aborted: what was buffered is not written
    with pytest.raises(FileExistsError):
        DirectFile(path)
