"""One-off background work of a network part, owned by a task group.

A part's callbacks (a peer connected, a block to announce) start short tasks; they run
in the task group of the part's ``run``, so each has an owner, an exception in one
propagates to it, and stopping the network cancels them all. Work started before
``run`` opened the group waits for it; work started after it closed is dropped,
because the network is stopping.
"""

from __future__ import annotations

import asyncio
from typing import Any, Coroutine, TypeVar

from .streams import P2PError

T = TypeVar("T")


class OwnedTasks:
    def __init__(self, name: str) -> None:
        self._name = name
        self._group: asyncio.TaskGroup | None = None
        self._waiting: list[Coroutine[Any, Any, Any]] = []
        self._closed = False

    def start_soon(self, work: Coroutine[Any, Any, Any]) -> None:
        if self._group is not None:
            self._group.create_task(work, name=self._name)
        elif self._closed:
            work.close()
        else:
            self._waiting.append(work)

    def create_task(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """A task in the group, for work whose result someone awaits; the group must be running."""
        if self._group is None:
            work.close()
            raise P2PError("the network is not running")
        return self._group.create_task(work, name=self._name)

    async def run(self) -> None:
        """Own the tasks started through this until cancelled."""
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                waiting, self._waiting = self._waiting, []
                for work in waiting:
                    group.create_task(work, name=self._name)
                await asyncio.Event().wait()
        finally:
            self._group, self._closed = None, True
            for work in self._waiting:
                work.close()
            self._waiting = []
