"""A listener's bounded outbound queue.

A slow or stalled listener must never slow the room: putting never blocks. When too much audio
waits, the oldest audio chunk is dropped and counted, and the listener is told in a notice after
the utterance's audio ends. Other events (captions, room events, notices) are kept; if even
those pile up past their own bound, the listener is stalled and :class:`Stalled` is raised so
the room can disconnect it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from parley.metrics import DROPPED_AUDIO
from parley.v1 import rooms_pb2


@dataclass(frozen=True)
class SerializedChunk:
    """An audio chunk serialized once as a JoinResponse and shared by every listener of its
    language (the Join stream sends the bytes as they are)."""

    data: bytes


def _kind(item) -> str:
    return "audio_chunk" if isinstance(item, SerializedChunk) else item.WhichOneof("event")


class Stalled(Exception):
    """The listener has not read its events for too long."""


class Outbox:
    """Events waiting to be sent to one participant."""

    def __init__(self, max_audio_chunks: int, max_events: int) -> None:
        self._items: deque[rooms_pb2.JoinResponse | SerializedChunk] = deque()
        self._audio = 0
        self._max_audio = max_audio_chunks
        self._max_events = max_events
        self._ready = asyncio.Event()
        self._closed = False
        self.dropped = 0  # audio chunks dropped since the last notice
        self.dropped_total = 0

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._items)

    def put(self, event: rooms_pb2.JoinResponse | SerializedChunk) -> None:
        """Queues ``event`` without waiting. The event is never changed: one message may be
        queued to every listener of a room.

        Raises:
            Stalled: if more than ``max_events`` non-audio events are waiting.
        """
        if self._closed:
            return
        kind = _kind(event)
        if kind == "audio_chunk":
            self._audio += 1
            if self._audio > self._max_audio:
                self._drop_oldest_audio()
        elif kind == "audio_end" and self.dropped:
            # This listener's own copy says how many of its chunks were dropped.
            own = rooms_pb2.JoinResponse()
            own.CopyFrom(event)
            own.audio_end.dropped_chunks = self.dropped
            self._items.append(own)
            self._items.append(self._drop_notice(own.audio_end.utterance_id))
            event = None
        if event is not None:
            self._items.append(event)
        if len(self._items) - self._audio > self._max_events:
            raise Stalled(f"{len(self._items)} events unread")
        self._ready.set()

    def _drop_oldest_audio(self) -> None:
        for i, item in enumerate(self._items):
            if _kind(item) == "audio_chunk":
                del self._items[i]
                self._audio -= 1
                self.dropped += 1
                self.dropped_total += 1
                DROPPED_AUDIO.inc()
                return

    def _drop_notice(self, utterance_id: str) -> rooms_pb2.JoinResponse:
        notice = rooms_pb2.Notice(
            code=rooms_pb2.NOTICE_CODE_AUDIO_DROPPED,
            severity=rooms_pb2.NOTICE_SEVERITY_WARNING,
            message=f"{self.dropped} audio chunks were dropped because they were not read in time",
            utterance_id=utterance_id,
            dropped_chunks=self.dropped,
        )
        self.dropped = 0
        return rooms_pb2.JoinResponse(notice=notice)

    async def get(self) -> rooms_pb2.JoinResponse | SerializedChunk | None:
        """The next event, or None once the outbox is closed and empty."""
        while not self._items:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        event = self._items.popleft()
        if _kind(event) == "audio_chunk":
            self._audio -= 1
        return event

    def close(self) -> None:
        """No more events: get() returns what is queued, then None."""
        self._closed = True
        self._ready.set()
