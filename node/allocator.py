"""Keep freed memory in the process instead of returning it to the kernel at once.

The node handles megabyte buffers all the time (content answers of 2 MiB, sync responses,
the frames under them). glibc's malloc gives blocks of that size back to the kernel as
soon as they are freed (mmap'd blocks, and the top of a heap past 2x the largest such
block), so the next buffer comes from fresh pages: the kernel zeroes them, and on a
virtual machine the host may have to back them first. Decoding one 2 MiB content answer
took 2.7 ms that way against 0.35 ms with memory reused; a 100 MB fetch between two nodes
went from 76 to 92 MB/s (median of 10, bench/network.py's transfer measured alone). The
cost: the process keeps up to the trim threshold of freed memory (about 17 MB more RSS in
that measurement).
"""

from __future__ import annotations

import ctypes
import logging
import platform

log = logging.getLogger("audiera.allocator")

MMAP_THRESHOLD = 32 * 1024 * 1024
"""Blocks below this come from the heap, not from a mapping of their own (glibc's own
upper limit for its dynamic threshold)."""
TRIM_THRESHOLD = 128 * 1024 * 1024
"""Free memory at the top of a heap is given back only past this."""

_M_TRIM_THRESHOLD = -1  # from glibc's malloc.h
_M_MMAP_THRESHOLD = -3


def tune_allocator() -> bool:
    """Apply the thresholds above; False where the C library is not glibc."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    applied = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    if not applied:
        log.warning("could not set malloc thresholds; large buffers will cost more")
    return applied
