"""``parley demo``: a scripted room of four people speaking three languages.

Each simulated participant's lines are spoken by the server's own TextToSpeechService, then
streamed into the room in real time, one speaker after another. Everything every participant
receives is printed with its time, and a summary gives the lag from the end of each line to
the first translated audio of its last words at each listener.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field

import grpc
import numpy as np

from parley.v1 import (
    audio_pb2,
    rooms_pb2,
    rooms_pb2_grpc,
    tts_pb2,
    tts_pb2_grpc,
)
from parley_client.connection import ConnectionOptions, make_channel

RATE = 16_000
CHUNK_S = 0.1


@dataclass
class Person:
    name: str
    speaks: str
    listens: str
    line: str
    audio: bytes = b""
    id: str = ""
    events: list = field(default_factory=list)
    requests: asyncio.Queue = field(default_factory=asyncio.Queue)


CAST = [
    Person("Ana", "en", "es", "Good morning everyone, thank you for coming today."),
    Person("Luis", "es", "en", "Buenos días, me alegra mucho estar aquí con vosotros."),
    Person("Marie", "fr", "en", "Bonjour à tous, je suis très contente de vous voir."),
    Person("John", "en", "fr", "Let us start the meeting with the weekly report."),
]


async def _requests(person: Person):
    while (request := await person.requests.get()) is not None:
        yield request


async def _listen(person: Person, call, started: float, echo) -> None:
    try:
        async for event in call:
            now = time.perf_counter() - started
            person.events.append((now, event))
            kind = event.WhichOneof("event")
            if kind == "joined":
                person.id = event.joined.participant_id
            elif kind == "caption" and event.caption.is_final:
                c = event.caption
                route = f" via {c.route}" if c.route else ""
                echo(
                    f"{now:7.2f}s  {person.name:<6} sees {c.speaker_name} "
                    f"({c.original_language}->{c.language}{route}): {c.text or c.original_text}"
                )
            elif kind == "audio_end":
                seconds = event.audio_end.duration.ToMilliseconds() / 1000
                echo(f"{now:7.2f}s  {person.name:<6} heard {seconds:.1f} s of speech")
            elif kind == "notice":
                echo(f"{now:7.2f}s  {person.name:<6} notice: {event.notice.message}")
    except grpc.aio.AioRpcError as exc:
        echo(f"{person.name}: stream ended: {exc.code().name}: {exc.details()}")


async def _voice(tts, person: Person) -> None:
    reply = await tts.Synthesize(
        tts_pb2.SynthesizeRequest(
            text=person.line,
            voice=tts_pb2.VoiceSelection(language=person.speaks, speaker_key=person.name),
            audio_format=audio_pb2.AudioFormat(
                encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hz=RATE
            ),
        ),
        timeout=60,
    )
    person.audio = reply.audio


async def run(
    address: str, echo=print, pace: float = 1.0, options: ConnectionOptions | None = None
) -> dict:
    """Runs the demo against a Parley server; returns the measured lags per listener."""
    async with make_channel(address, options or ConnectionOptions()) as channel:
        rooms = rooms_pb2_grpc.RoomServiceStub(channel)
        tts = tts_pb2_grpc.TextToSpeechServiceStub(channel)
        cast = [Person(p.name, p.speaks, p.listens, p.line) for p in CAST]
        echo("preparing the voices of " + ", ".join(f"{p.name} ({p.speaks})" for p in cast))
        await asyncio.gather(*(_voice(tts, p) for p in cast))
        created = await rooms.CreateRoom(rooms_pb2.CreateRoomRequest(name="Parley demo"))
        room = created.room
        echo(
            f"room {room.room_id}: "
            + ", ".join(f"{p.name} speaks {p.speaks}, hears {p.listens}" for p in cast)
        )
        started = time.perf_counter()
        listeners = []
        for person in cast:
            person.requests.put_nowait(
                rooms_pb2.JoinRequest(
                    join=rooms_pb2.JoinRoom(
                        room_id=room.room_id,
                        display_name=person.name,
                        speak_language=person.speaks,
                        listen_language=person.listens,
                        join_token=created.join_token,
                    )
                )
            )
            call = rooms.Join(_requests(person))
            listeners.append(asyncio.create_task(_listen(person, call, started, echo)))
        ends: dict[str, float] = {}
        silence = b"\0\0" * int(RATE * 1.5)
        for person in cast:
            data = person.audio + silence
            step = int(RATE * CHUNK_S) * 2
            t0 = time.perf_counter()
            echo(f"{t0 - started:7.2f}s  {person.name} says: {person.line}")
            for i in range(0, len(data), step):
                await asyncio.sleep(max(0.0, t0 + i / 2 / RATE / pace - time.perf_counter()))
                person.requests.put_nowait(
                    rooms_pb2.JoinRequest(audio=audio_pb2.AudioChunk(data=data[i : i + step]))
                )
            ends[person.name] = t0 + _speech_seconds(person.audio) / pace - started
            await asyncio.sleep(2.0)
        await asyncio.sleep(3.0)
        for person in cast:
            person.requests.put_nowait(rooms_pb2.JoinRequest(leave=rooms_pb2.LeaveRoom()))
            person.requests.put_nowait(None)
        await asyncio.wait(listeners, timeout=10)
        return _summary(cast, ends, echo)


def _speech_seconds(pcm: bytes) -> float:
    """Where speech ends in a clip: the end of its last 10 ms louder than -40 dBFS."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
    window = RATE // 100
    frames = samples[: samples.size // window * window].reshape(-1, window)
    loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > 0.01)
    return (loud[-1] + 1) * window / RATE if loud.size else 0.0


def _summary(cast: list[Person], ends: dict[str, float], echo) -> dict:
    names = {p.id: p.name for p in cast}
    lags: dict[str, list[float]] = {}
    for person in cast:
        for at, event in person.events:
            if event.WhichOneof("event") == "audio_begin":
                speaker = names.get(event.audio_begin.speaker_id, "?")
                lags.setdefault(f"{speaker}->{person.name}", []).append(at - ends[speaker])
    # A line of more than one sentence may reach a listener in several segments, the first
    # while it is still being said: its lag is that of the segment holding its last words.
    echo("\nend of speech -> first translated audio of its last words at the listener:")
    for pair, values in sorted(lags.items()):
        parts = f" ({len(values)} segments)" if len(values) > 1 else ""
        echo(f"  {pair:<14} {values[-1]:.2f} s{parts}")
    last = [values[-1] for values in lags.values()]
    if last:
        echo(f"  median {statistics.median(last):.2f} s over {len(last)} deliveries")
    return lags


def main(address: str, options: ConnectionOptions | None = None) -> int:
    lags = asyncio.run(run(address, options=options))
    return 0 if lags else 1
