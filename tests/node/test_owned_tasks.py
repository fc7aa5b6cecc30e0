"""The network's one-off tasks have an owner: they run in its task group, an exception
reaches it, and stopping it cancels them."""

from __future__ import annotations

import asyncio

import pytest

from node.p2p.streams import P2PError
from node.p2p.tasks import OwnedTasks


async def test_work_started_before_the_group_runs_once_it_does() -> None:
    tasks = OwnedTasks("test")
    done = asyncio.Event()

    async def work() -> None:
        done.set()

    tasks.start_soon(work())
    owner = asyncio.create_task(tasks.run())
    await asyncio.wait_for(done.wait(), timeout=5)
    owner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await owner


async def test_an_exception_in_a_task_reaches_the_owner() -> None:
    tasks = OwnedTasks("test")

    async def fails() -> None:
        raise RuntimeError("boom")

    owner = asyncio.create_task(tasks.run())
    await asyncio.sleep(0)
    tasks.start_soon(fails())
    with pytest.raises(ExceptionGroup) as raised:
        await asyncio.wait_for(owner, timeout=5)
    assert raised.group_contains(RuntimeError)


async def test_stopping_the_owner_cancels_its_tasks_and_later_work_is_dropped() -> None:
    tasks = OwnedTasks("test")
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    owner = asyncio.create_task(tasks.run())
    await asyncio.sleep(0)
    tasks.start_soon(forever())
    await asyncio.wait_for(started.wait(), timeout=5)
    owner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await owner
    assert cancelled.is_set()

    async def late() -> None:
        raise AssertionError("work started after the owner stopped must not run")

    tasks.start_soon(late())  # closed, never run (no "never awaited" warning either)
    with pytest.raises(P2PError):
        tasks.create_task(late())
