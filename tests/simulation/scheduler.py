"""The virtual clock and the event queue every simulated thing runs on."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Callable


@dataclass(eq=False)
class Timer:
    """A callback due at ``due`` ms; ``cancel()`` makes it a no-op."""

    due: int
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class Scheduler:
    """Runs callbacks in (time, insertion) order; time moves only from one callback to the next."""

    def __init__(self, start_ms: int) -> None:
        self.now = start_ms
        self._queue: list[tuple[int, int, Timer]] = []
        self._seq = 0
        self.stopped = False

    def stop(self) -> None:
        """End ``run_until`` after the current callback."""
        self.stopped = True

    def clock(self) -> int:
        return self.now

    def at(self, due_ms: int, callback: Callable[[], None]) -> Timer:
        self._seq += 1
        timer = Timer(max(due_ms, self.now), callback)
        heapq.heappush(self._queue, (timer.due, self._seq, timer))
        return timer

    def after(self, delay_ms: int, callback: Callable[[], None]) -> Timer:
        return self.at(self.now + delay_ms, callback)

    def run_until(self, end_ms: int) -> None:
        queue = self._queue
        while queue and queue[0][0] <= end_ms and not self.stopped:
            _, _, timer = heapq.heappop(queue)
            if timer.cancelled:
                continue
            self.now = timer.due
            timer.callback()
        if not self.stopped:
            self.now = max(self.now, end_ms)
