"""Tasks with an owner: each is kept until it ends, and all end together when the owner does.

A room starts tasks for its speakers (recognition, in-order delivery, finishing what a member
said after they left). :class:`TaskOwner` holds them so that none is lost or outlives its room:
a task's failure is logged (never an exception nobody collects), and :meth:`TaskOwner.cancel`
ends them all, waiting a bounded time for code that is slow to give way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine

from parley.logs import get_logger

log = get_logger(__name__)

CANCEL_TIMEOUT_S = 2.0


class TaskOwner:
    """The tasks one object started."""

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._tasks: set[asyncio.Task] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coroutine: Coroutine, name: str = "") -> asyncio.Task:
        """Runs ``coroutine`` as a task of this owner."""
        task = asyncio.create_task(coroutine, name=f"{self._owner}: {name}" if name else None)
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._ended)
        return task

    def _ended(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "task failed", owner=self._owner, task=task.get_name(), exc_info=task.exception()
            )

    async def idle(self) -> None:
        """Returns once no task of this owner is running."""
        await self._idle.wait()

    def cancel_soon(self) -> None:
        """Cancels every task now, without waiting for them to end."""
        for task in list(self._tasks):
            task.cancel()

    async def cancel(self, timeout_s: float = CANCEL_TIMEOUT_S) -> None:
        """Cancels every task and waits up to ``timeout_s`` for them to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout_s)
        if pending:
            log.warning("tasks did not end when cancelled", owner=self._owner, tasks=len(pending))
