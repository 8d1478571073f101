"""The audio a recognition stream was sent that no final result has covered yet: what a new
stream is given again when its server dies mid-utterance, so that those words are not lost."""

from __future__ import annotations

from collections import deque


class Unrecognised:
    """One stream's audio chunks from the end of its last final result on, at most
    ``limit_bytes`` of the newest (older chunks are dropped, so memory stays bounded)."""

    def __init__(self, bytes_per_ms: float, limit_bytes: int) -> None:
        self._bytes_per_ms = bytes_per_ms
        self._limit = limit_bytes
        self._chunks: deque[tuple[int, bytes]] = deque()  # (stream offset of its end, chunk)
        self._sent = 0
        self._held = 0

    def __len__(self) -> int:
        """Bytes held."""
        return self._held

    def sent(self, data: bytes) -> None:
        """``data`` went to the stream after everything before it."""
        self._sent += len(data)
        self._chunks.append((self._sent, data))
        self._held += len(data)
        while self._held > self._limit:
            self._held -= len(self._chunks.popleft()[1])

    def covered(self, end_ms: float) -> None:
        """A final result covers the stream's audio up to ``end_ms``: the chunks that end
        there or before are dropped."""
        end = end_ms * self._bytes_per_ms
        while self._chunks and self._chunks[0][0] <= end:
            self._held -= len(self._chunks.popleft()[1])

    def take(self) -> list[bytes]:
        """The chunks held, for a new stream (whose offsets start at 0); this is left empty."""
        found = [chunk for _, chunk in self._chunks]
        self._chunks.clear()
        self._sent = self._held = 0
        return found
