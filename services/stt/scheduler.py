"""Runs recognitions for one model in worker threads: live finals, then live partials, then
batch work.

Whisper is CPU-bound and uses every core for one call, so by default a model runs one call at a
time. Finals of live streams jump the queue; a new partial hypothesis for a stream replaces its
older one that has not started, so partials never starve finals of CPU. Batch work (the
utterances of a whole file given to Recognize) waits behind both: a room's speech is never
queued behind a long file, which waits at most for the one call in progress.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from parley.metrics import QUEUE_DEPTH

FINAL, PARTIAL, BATCH = 0, 1, 2


@dataclass(order=True)
class _Job:
    priority: int
    sequence: int
    work: Callable[[], Any] = field(compare=False)
    future: asyncio.Future = field(compare=False)


@dataclass(frozen=True)
class Timed:
    """A result and the wall time its computation took."""

    value: Any
    seconds: float


class InferenceQueue:
    """A priority queue of blocking calls served by ``workers`` threads."""

    def __init__(self, name: str, workers: int = 1) -> None:
        self._name = name
        self._workers = workers
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix=f"stt-{name}")
        self._queue: asyncio.PriorityQueue[_Job] | None = None
        self._tasks: list[asyncio.Task] = []
        self._counter = itertools.count()
        self._partials: dict[object, _Job] = {}

    def _ensure_started(self) -> asyncio.PriorityQueue[_Job]:
        if self._queue is None:
            self._queue = asyncio.PriorityQueue()
            self._tasks = [
                asyncio.create_task(self._serve(), name=f"stt-{self._name}-{i}")
                for i in range(self._workers)
            ]
        return self._queue

    def submit(
        self, work: Callable[[], Any], *, partial_key: object | None = None, batch: bool = False
    ) -> asyncio.Future[Timed]:
        """Queues ``work``; the future gets a :class:`Timed` result.

        With ``partial_key`` the call is a partial hypothesis: it yields to finals, and an older
        partial with the same key that has not started is cancelled. ``batch`` work yields to
        both.
        """
        queue = self._ensure_started()
        future: asyncio.Future[Timed] = asyncio.get_running_loop().create_future()
        priority = BATCH if batch else FINAL if partial_key is None else PARTIAL
        job = _Job(priority, next(self._counter), work, future)
        if partial_key is not None:
            older = self._partials.pop(partial_key, None)
            if older is not None:
                older.future.cancel()
            self._partials[partial_key] = job
        queue.put_nowait(job)
        QUEUE_DEPTH.labels(f"stt-{self._name}").set(queue.qsize())
        return future

    def cancel_partial(self, partial_key: object) -> None:
        """Cancels the waiting partial of ``partial_key``, if it has not started."""
        job = self._partials.pop(partial_key, None)
        if job is not None:
            job.future.cancel()

    async def _serve(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            job = await self._queue.get()
            QUEUE_DEPTH.labels(f"stt-{self._name}").set(self._queue.qsize())
            for key, waiting in list(self._partials.items()):
                if waiting is job:
                    del self._partials[key]
            if job.future.cancelled():
                continue
            started = time.perf_counter()
            try:
                value = await loop.run_in_executor(self._executor, job.work)
            except Exception as exc:  # delivered to whoever awaits the job
                if not job.future.done():
                    job.future.set_exception(exc)
                continue
            if not job.future.done():
                job.future.set_result(Timed(value, time.perf_counter() - started))

    async def close(self) -> None:
        """Stops the workers; queued calls are cancelled."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._queue is not None:
            while not self._queue.empty():
                self._queue.get_nowait().future.cancel()
        self._queue = None
        self._executor.shutdown(wait=False, cancel_futures=True)
