"""Bridges from blocking engine code to asyncio, so that nothing blocks the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


async def iterate_in_thread(
    make: Callable[[], Iterator[T]], executor: Executor | None = None
) -> AsyncIterator[T]:
    """Runs a blocking iterator in ``executor``, one item per hop, and yields its items.

    The iterator is created in the executor too, so a slow first step (loading, the first
    synthesis) never runs on the loop. Closing the async generator closes the iterator.
    """
    loop = asyncio.get_running_loop()
    iterator = await loop.run_in_executor(executor, lambda: iter(make()))
    try:
        while True:
            item = await loop.run_in_executor(executor, next, iterator, _DONE)
            if item is _DONE:
                return
            yield item  # type: ignore[misc]
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            await loop.run_in_executor(executor, close)
