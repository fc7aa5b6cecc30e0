"""Time as an argument: everything that needs the wall clock is handed a Clock."""

from __future__ import annotations

import time
from typing import Callable

Clock = Callable[[], int]
"""Returns ms since the Unix epoch."""


def system_clock() -> int:
    return time.time_ns() // 1_000_000
