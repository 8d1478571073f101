"""Audio that arrives faster than real time, slowed down to real time after a burst.

A live stream has no reason to send audio much faster than it is spoken; a client that does
(a file pushed at full speed, or a flood) would make the server queue recognitions without
bound. :class:`AudioPacer` is a token bucket counted in seconds of audio: a stream may run up to
``burst_s`` ahead of the wall clock, then it is read no faster than real time. The caller sleeps
for the delay it returns, which stops reading the stream: gRPC flow control then holds the
sender back. Nothing is dropped or refused.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class AudioPacer:
    """How long to wait before taking the next piece of a stream's audio.

    Args:
        burst_s: seconds of audio a stream may send ahead of the wall clock; 0 for no limit.
        bytes_per_second: size of one second of the stream's audio.
        clock: monotonic time in seconds (tests pass a fake one).
    """

    def __init__(
        self,
        burst_s: float,
        bytes_per_second: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._burst = burst_s
        self._rate = bytes_per_second
        self._clock = clock
        self._credit = burst_s
        self._at: float | None = None
        self.throttled_s = 0.0  # total time this stream was held back

    @property
    def limited(self) -> bool:
        return self._burst > 0

    def take(self, size: int) -> float:
        """Counts ``size`` bytes of audio; returns the seconds to wait before reading on."""
        if self._burst <= 0 or size <= 0:
            return 0.0
        now = self._clock()
        if self._at is not None:
            self._credit = min(self._burst, self._credit + (now - self._at))
        self._at = now
        self._credit -= size / self._rate
        delay = -self._credit
        if delay < 0.001:  # not worth a sleep (and rounding errors of exact real time)
            return 0.0
        self.throttled_s += delay
        return delay

    async def pace(self, size: int, first_held: Callable[[], None] | None = None) -> None:
        """Waits, before ``size`` more bytes are taken, as long as :meth:`take` says; calls
        ``first_held`` the first time the stream is held back (to say so once)."""
        delay = self.take(size)
        if not delay:
            return
        if first_held is not None and self.throttled_s == delay:
            first_held()
        await asyncio.sleep(delay)  # real-time pacing, not a synchronisation
