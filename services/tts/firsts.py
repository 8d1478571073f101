"""First pieces first: a stream's later audio gives way while other streams wait for their first.

Several syntheses often start at once (a room's utterance is spoken in every listener language
together). Pico makes a sentence far faster than real time, so the first stream to get going
would otherwise send piece after piece while the others are still making their first one, and
on two cores every one of those pieces (its delivery to each listener included) takes CPU and
event-loop time from the others' first audio. So while any stream of this server waits for its
first piece, a stream that has already started holds its next piece back, but never for longer
than the audio it has already sent covers: its listeners never run out of audio because of it,
and nobody's first audio waits for anyone.
"""

from __future__ import annotations

import asyncio
import contextlib

MARGIN_S = 0.02
"""Audio a holding stream always keeps sent ahead of real time, in seconds."""
MAX_HOLD_S = 0.1
"""Longest a later piece is held back, in seconds."""


class FirstPieces:
    """Counts the streams that have not sent their first piece yet (one event loop)."""

    def __init__(self) -> None:
        self._waiting = 0
        self._none_waiting = asyncio.Event()
        self._none_waiting.set()

    @property
    def waiting(self) -> int:
        """Streams still making their first piece."""
        return self._waiting

    def starting(self) -> None:
        """A stream starts: its first piece is on its way."""
        self._waiting += 1
        self._none_waiting.clear()

    def started(self) -> None:
        """That stream sent its first piece, or ended without one."""
        self._waiting -= 1
        if self._waiting <= 0:
            self._waiting = 0
            self._none_waiting.set()

    async def give_way(self, ahead_s: float) -> float:
        """Waits while other streams make their first piece, at most until only
        :data:`MARGIN_S` of the ``ahead_s`` seconds of audio this stream has sent beyond real
        time remain (and at most :data:`MAX_HOLD_S`). Returns the seconds waited."""
        budget = min(ahead_s - MARGIN_S, MAX_HOLD_S)
        if not self._waiting or budget <= 0:
            return 0.0
        loop = asyncio.get_running_loop()
        started = loop.time()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._none_waiting.wait(), budget)
        return loop.time() - started
