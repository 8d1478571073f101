"""Live first: a long file given to Recognize does not hold back a room's captions."""

from __future__ import annotations

import asyncio
import statistics
import time

import grpc
import numpy as np

from parley.v1 import rooms_pb2, stt_pb2, stt_pb2_grpc
from tests.rooms.conftest import Participant, join, room_server
from tests.speech import pcm16, silence
from tests.voices import say, voices

LINES = [
    "Please send me the report before Friday.",
    "The train leaves at eight in the morning.",
    "I will call you back after the meeting.",
    "We need two more chairs for the guests in the second row.",
]
CHUNK = 1600  # 100 ms


def five_minutes_of_speech() -> bytes:
    """Sentences by several voices with a second between them, 5 minutes in all."""
    pieces, total, k = [], 0, 0
    speakers = voices("en")
    while total < 300 * 16_000:
        clip = say(LINES[k % len(LINES)], speakers[k % len(speakers)])
        pieces += [clip, silence(1.0)]
        total += clip.size + 16_000
        k += 1
    return pcm16(np.concatenate(pieces))


async def speak(speaker: Participant, clip: np.ndarray) -> float:
    """Streams ``clip`` then 1.5 s of silence in real time; returns when its speech ended."""
    audio = np.concatenate([clip, silence(1.5)])
    start = time.perf_counter()
    for i in range(0, audio.size, CHUNK):
        await asyncio.sleep(max(0.0, start + i / 16_000 - time.perf_counter()))  # real time
        speaker.send_audio(audio[i : i + CHUNK])
    return start + clip.size / 16_000


async def caption_lags(speaker, listener, clips, ended_by: asyncio.Future | None = None):
    """Lag from the end of each clip's speech to the listener's final caption of it; with
    ``ended_by``, only those that arrived before it was done."""
    lags = []
    for clip in clips:
        count = len(listener.finals())
        ended = await speak(speaker, clip)
        await listener.wait_for(lambda _, n=count: len(listener.finals()) > n, within_s=60)
        arrived = time.perf_counter()
        if ended_by is None or not ended_by.done():
            lags.append(arrived - ended)
    return lags


async def test_a_long_recognize_does_not_delay_a_rooms_captions(engines):
    voice = voices("en")[0]
    clips = [say(text, voice) for text in LINES] * 2
    async with room_server(engines) as (stub, _):
        room = (await stub.CreateRoom(rooms_pb2.CreateRoomRequest(open=True))).room.room_id
        listener = Participant(stub, join(room, "Luis", "es", "es", delivery=2))
        speaker = Participant(stub, join(room, "Ann", "en", "en"))
        await listener.wait_for(lambda events: any(e.HasField("joined") for e in events))
        idle = await caption_lags(speaker, listener, clips[:4])

        async with grpc.aio.insecure_channel(engines) as channel:
            stt = stt_pb2_grpc.SpeechToTextServiceStub(channel)
            request = stt_pb2.RecognizeRequest(
                config=stt_pb2.RecognitionConfig(language="en"), audio=five_minutes_of_speech()
            )
            batch = asyncio.ensure_future(stt.Recognize(request, timeout=600))
            busy = await caption_lags(speaker, listener, clips, ended_by=batch)
            heard = await batch
        await speaker.close()
        await listener.close()
    assert len(heard.results) >= 40  # the file was recognised, all the while
    assert len(busy) >= 3, "the file was done before the room had spoken"
    assert statistics.median(busy) <= 1.5 * statistics.median(idle), (idle, busy)
