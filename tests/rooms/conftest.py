"""Rooms over real engines: one server with STT, translation and TTS, and room servers that
reach it through gRPC (the split deployment), optionally through counting backends."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import grpc
import pytest

from parley.server import ServerConfig, running
from parley.v1 import audio_pb2, rooms_pb2, rooms_pb2_grpc
from services.rooms.backends import GrpcBackends
from services.rooms.config import RoomsConfig
from services.rooms.servicer import service as rooms_service
from services.stt.config import SttConfig
from services.stt.servicer import service as stt_service
from services.translate.config import TranslateConfig
from services.translate.servicer import service as translate_service
from services.tts.config import TtsConfig
from services.tts.servicer import service as tts_service
from tests.speech import pcm16

LOOPBACK = ServerConfig(host="127.0.0.1", port=0, auth="disabled")


def pytest_collection_modifyitems(items):
    """Tests that start the real engines are marked ``engines`` (see pyproject.toml)."""
    for item in items:
        if "engines" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.engines)


@pytest.fixture(scope="session")
async def engines():
    """STT, translation and TTS in one server; yields its address."""
    services = [
        stt_service(SttConfig(preload="start")),
        translate_service(TranslateConfig()),
        tts_service(TtsConfig()),
    ]
    async with running(services, LOOPBACK) as server:
        yield server.local_address


class CountingBackends:
    """Real gRPC backends that count calls, and can be told to fail a language's synthesis."""

    def __init__(self, address: str) -> None:
        self._inner = GrpcBackends(address, address, address)
        self.calls: Counter = Counter()
        self.translated_targets: list[list[str]] = []
        self.synthesized: list[str] = []
        self.fail_synthesis: set[str] = set()
        self.fail_translation: set[str] = set()

    def recognize(self, requests):
        self.calls["recognize"] += 1
        return self._inner.recognize(requests)

    async def translate(self, request, deadline_s):
        self.calls["translate"] += 1
        self.translated_targets.append(sorted(request.target_languages))
        if self.fail_translation & set(request.target_languages):
            raise FakeRpcError(grpc.StatusCode.UNAVAILABLE, "injected translation failure")
        return await self._inner.translate(request, deadline_s)

    async def translates(self, source, target, deadline_s):
        return await self._inner.translates(source, target, deadline_s)

    async def speaks(self, language, deadline_s):
        return await self._inner.speaks(language, deadline_s)

    async def synthesize(self, request, deadline_s):
        self.calls["synthesize"] += 1
        self.synthesized.append(request.voice.language)
        if request.voice.language in self.fail_synthesis:
            raise FakeRpcError(grpc.StatusCode.UNAVAILABLE, "injected synthesis failure")
        async for response in self._inner.synthesize(request, deadline_s):
            yield response

    async def catalogue(self, deadline_s):
        return await self._inner.catalogue(deadline_s)

    async def close(self):
        await self._inner.close()


class FakeRpcError(grpc.aio.AioRpcError):
    def __init__(self, code, details):
        super().__init__(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


@contextlib.asynccontextmanager
async def room_server(engines_address: str, counting: bool = False, **settings):
    """A RoomService on 127.0.0.1:0 using the engines server; yields (stub, backends)."""
    config = RoomsConfig(
        stt_address=engines_address,
        translate_address=engines_address,
        tts_address=engines_address,
        **settings,
    )
    backends = CountingBackends(engines_address) if counting else None
    async with running([rooms_service(config, backends)], LOOPBACK) as server:
        async with grpc.aio.insecure_channel(server.local_address) as channel:
            stub = rooms_pb2_grpc.RoomServiceStub(channel)
            stub.address = server.local_address
            yield stub, backends


class _QueueIterator:
    """Requests from a queue until None (a class, so that cancelling the call never finds an
    async generator mid-step)."""

    def __init__(self, queue: asyncio.Queue) -> None:
        self._queue = queue

    def __aiter__(self):
        return self

    async def __anext__(self):
        request = await self._queue.get()
        if request is None:
            raise StopAsyncIteration
        return request


class Participant:
    """A test participant: sends through a queue, records every event it receives."""

    def __init__(self, stub, join: rooms_pb2.JoinRoom, read: bool = True) -> None:
        self._requests: asyncio.Queue = asyncio.Queue()
        self._requests.put_nowait(rooms_pb2.JoinRequest(join=join))
        self.events: list[rooms_pb2.JoinResponse] = []
        self.error: grpc.aio.AioRpcError | None = None
        self._call = stub.Join(_QueueIterator(self._requests))
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read()) if read else None
        self.id = ""

    async def _read(self):
        try:
            async for event in self._call:
                self.events.append(event)
                if event.HasField("joined"):
                    self.id = event.joined.participant_id
                self._changed.set()
        except grpc.aio.AioRpcError as exc:
            self.error = exc
        self._changed.set()

    async def start_reading(self):
        self._reader = asyncio.create_task(self._read())

    def send_audio(self, samples, chunk_bytes: int = 3200) -> None:
        data = pcm16(samples)
        for i in range(0, len(data), chunk_bytes):
            self._requests.put_nowait(
                rooms_pb2.JoinRequest(audio=audio_pb2.AudioChunk(data=data[i : i + chunk_bytes]))
            )

    def send(self, **event) -> None:
        self._requests.put_nowait(rooms_pb2.JoinRequest(**event))

    def leave(self) -> None:
        self._requests.put_nowait(rooms_pb2.JoinRequest(leave=rooms_pb2.LeaveRoom()))

    def disconnect(self) -> None:
        self._call.cancel()

    async def wait_for(self, predicate, within_s: float = 60.0):
        """Waits until ``predicate(events)`` is true; returns its value."""
        async with asyncio.timeout(within_s):
            while True:
                value = predicate(self.events)
                if value or self._reader is None or self._reader.done():
                    return value
                self._changed.clear()
                await self._changed.wait()

    def of(self, kind: str) -> list:
        return [getattr(e, kind) for e in self.events if e.WhichOneof("event") == kind]

    def finals(self) -> list[rooms_pb2.Caption]:
        return [c for c in self.of("caption") if c.is_final]

    def audio(self, utterance_id: str) -> bytes:
        return b"".join(c.data for c in self.of("audio_chunk") if c.utterance_id == utterance_id)

    async def close(self) -> None:
        self._requests.put_nowait(None)
        if self._reader:
            with contextlib.suppress(asyncio.TimeoutError, grpc.aio.AioRpcError):
                await asyncio.wait_for(self._reader, 10)


def join(room_id: str, name: str, speak: str, listen: str, **fields) -> rooms_pb2.JoinRoom:
    return rooms_pb2.JoinRoom(
        room_id=room_id, display_name=name, speak_language=speak, listen_language=listen, **fields
    )
