"""Continuous interpretation: someone who speaks without pausing is heard sentence by sentence."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from parley.v1 import audio_pb2, rooms_pb2
from tests.rooms.conftest import Participant, join, room_server
from tests.speech import pcm16, wer
from tests.stt.test_commit import monologue
from tests.voices import Voice


async def speak_paced(person: Participant, samples: np.ndarray, speed: float = 1.5) -> None:
    data, step = pcm16(samples), 3200
    started = time.perf_counter()
    for i in range(0, len(data), step):
        await asyncio.sleep(max(0.0, started + i / 32_000 / speed - time.perf_counter()))
        person.send(audio=audio_pb2.AudioChunk(data=data[i : i + step]))


async def test_a_monologue_reaches_every_listener_sentence_by_sentence_in_order(engines):
    audio, script = monologue(Voice("pico", "en-US", "en"))
    async with room_server(engines) as (stub, _):
        await stub.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="talk", open=True))
        ana = Participant(stub, join("talk", "Ana", "en", "en"))
        listeners = [
            Participant(stub, join("talk", f"L-{lang}", lang, lang)) for lang in ("es", "fr")
        ]
        for person in (ana, *listeners):
            await person.wait_for(lambda e, p=person: p.of("joined"))
        speaking = asyncio.ensure_future(speak_paced(ana, audio))
        # The first sentence arrives while Ana is still talking.
        await listeners[0].wait_for(lambda e: listeners[0].finals(), within_s=60)
        assert not speaking.done()
        await speaking
        own = await ana.wait_for(
            # The piece with the last words, however Whisper punctuates or splits it.
            lambda e: (f := ana.finals()) and "lunch" in f[-1].original_text.lower() and f,
            within_s=60,
        )
        assert len(own) >= 3 and wer(script, " ".join(c.original_text for c in own)) <= 0.1
        for person in listeners:
            got = await person.wait_for(
                lambda e, p=person: len(p.finals()) >= len(own) and p.finals()
            )
            # Every segment, once, in the speaker's order, translated, with its speech.
            assert [c.utterance_id for c in got] == [c.utterance_id for c in own]
            assert [c.original_text for c in got] == [c.original_text for c in own]
            assert all(c.text and c.text != c.original_text for c in got)
            ends = await person.wait_for(
                lambda e, p=person: len(p.of("audio_end")) >= len(own) and p.of("audio_end")
            )
            assert [a.utterance_id for a in ends] == [c.utterance_id for c in own]
        for person in (ana, *listeners):
            await person.close()
