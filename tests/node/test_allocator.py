from __future__ import annotations

import platform

import pytest

from node import allocator


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the thresholds are glibc's")
def test_thresholds_are_applied_on_glibc():
    assert allocator.tune_allocator()


def test_other_c_libraries_are_left_alone(monkeypatch):
    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("musl", "1.2"))
    assert not allocator.tune_allocator()
    monkeypatch.setattr(allocator.platform, "system", lambda: "Darwin")
    assert not allocator.tune_allocator()


def test_a_refused_threshold_is_reported(monkeypatch, caplog):
    class Libc:
        @staticmethod
        def mallopt(option, value):
            return 0

    monkeypatch.setattr(allocator.platform, "system", lambda: "Linux")
    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("glibc", "2.36"))
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda name: Libc())
    assert not allocator.tune_allocator()
    assert "could not set malloc thresholds" in caplog.text
