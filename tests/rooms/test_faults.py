"""Faults with real processes: the TTS or translation service stopped mid-room degrades the
room to captions with a notice and recovers when it comes back on the same port; SIGTERM on a
room server finishes what is being said, then closes every room with a reason."""

from __future__ import annotations

import asyncio
import signal
import sys

import grpc
import numpy as np
import pytest

from parley.server import ServerConfig, running
from parley.v1 import rooms_pb2, rooms_pb2_grpc
from services.rooms.config import RoomsConfig
from services.rooms.servicer import service as rooms_service
from tests.rooms.conftest import Participant, join
from tests.speech import silence, speak, transcribe

LOOPBACK = ServerConfig(host="127.0.0.1", port=0, auth="disabled")
RECONNECT_S = 3.0  # the room's channels retry a restarted service within 2 s


def utterance(text: str) -> np.ndarray:
    return np.concatenate([silence(0.3), speak(text, "en"), silence(1.2)])


def python_module(module: str) -> list[str]:
    return [sys.executable, "-m", module]


async def room(address: str):
    """A stub of the RoomService at ``address``, with Ana (speaks English) and Luis (hears
    Spanish) in an open room."""
    channel = grpc.aio.insecure_channel(address)
    stub = rooms_pb2_grpc.RoomServiceStub(channel)
    await stub.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="faults", open=True))
    ana = Participant(stub, join("faults", "Ana", "en", "en"))
    luis = Participant(stub, join("faults", "Luis", "es", "es"))
    for p in (ana, luis):
        await p.wait_for(lambda e, p=p: p.of("joined"))
    return channel, ana, luis


async def said(ana: Participant, luis: Participant, text: str) -> rooms_pb2.Caption:
    """Ana says ``text``; returns the final caption Luis gets for it."""
    before = len(luis.finals())
    ana.send_audio(utterance(text))
    captions = await luis.wait_for(lambda e: len(luis.finals()) > before and luis.finals())
    return captions[before]


async def audio_of(luis: Participant, caption: rooms_pb2.Caption) -> bytes:
    await luis.wait_for(
        lambda e: [a for a in luis.of("audio_end") if a.utterance_id == caption.utterance_id]
    )
    return luis.audio(caption.utterance_id)


def notices_for(luis: Participant, caption: rooms_pb2.Caption, code: int):
    return [
        n for n in luis.of("notice") if n.utterance_id == caption.utterance_id and n.code == code
    ]


@pytest.fixture
def rooms_config(engines):
    def make(**addresses) -> RoomsConfig:
        peers = {
            "stt_address": engines,
            "translate_address": engines,
            "tts_address": engines,
            **addresses,
        }
        return RoomsConfig(stt_model="whisper-tiny.en", **peers)

    return make


async def test_tts_stopped_mid_room_degrades_to_captions_and_recovers(engines, spawn, rooms_config):
    tts_env = {"PARLEY_TTS_ENGINES": "pico,espeak-ng"}
    tts = spawn(*python_module("services.tts"), env=tts_env)
    config = rooms_config(tts_address=tts.address)
    async with running([rooms_service(config)], LOOPBACK) as server:
        channel, ana, luis = await room(server.local_address)
        first = await said(ana, luis, "Good morning, how are you today?")
        assert "buen" in first.text.lower()
        assert await audio_of(luis, first)

        tts.process.kill()
        tts.process.wait(timeout=10)
        down = await said(ana, luis, "Thank you very much.")
        assert "gracias" in down.text.lower(), down.text  # captions still arrive, translated
        (notice,) = await luis.wait_for(
            lambda e: notices_for(luis, down, rooms_pb2.NOTICE_CODE_SYNTHESIS_FAILED)
        )
        assert notice.language == "es" and "captions still arrive" in notice.message
        assert not luis.audio(down.utterance_id)

        spawn(*python_module("services.tts"), env={**tts_env, "PARLEY_PORT": str(tts.port)})
        await asyncio.sleep(RECONNECT_S)
        back = await said(ana, luis, "See you tomorrow at noon.")
        heard = await transcribe(engines, await audio_of(luis, back), "es")
        assert "mañana" in heard.lower() or "manana" in heard.lower(), heard
        assert not notices_for(luis, back, rooms_pb2.NOTICE_CODE_SYNTHESIS_FAILED)
        for p in (ana, luis):
            await p.close()
        await channel.close()


async def test_translation_stopped_mid_room_degrades_to_captions_and_recovers(
    engines, spawn, rooms_config
):
    translate = spawn(*python_module("services.translate"))
    config = rooms_config(translate_address=translate.address)
    async with running([rooms_service(config)], LOOPBACK) as server:
        channel, ana, luis = await room(server.local_address)
        first = await said(ana, luis, "Good morning, how are you today?")
        assert "buen" in first.text.lower() and first.route == "en>pt (bergamot) > pt>es (apertium)"

        translate.process.kill()
        translate.process.wait(timeout=10)
        down = await said(ana, luis, "Thank you very much.")
        # The original words, flagged: no translation, no speech in the wrong language.
        assert down.text == down.original_text and "thank you" in down.original_text.lower()
        (notice,) = await luis.wait_for(
            lambda e: notices_for(luis, down, rooms_pb2.NOTICE_CODE_TRANSLATION_FAILED)
        )
        assert notice.language == "es"

        spawn(*python_module("services.translate"), env={"PARLEY_PORT": str(translate.port)})
        await asyncio.sleep(RECONNECT_S)
        back = await said(ana, luis, "Thank you very much.")
        assert "gracias" in back.text.lower(), back.text
        assert await audio_of(luis, back)
        for p in (ana, luis):
            await p.close()
        await channel.close()


async def test_sigterm_finishes_what_is_being_said_then_closes_rooms(engines, spawn):
    rooms = spawn(
        *python_module("services.rooms"),
        env={
            "PARLEY_STT_ADDRESS": engines,
            "PARLEY_TRANSLATE_ADDRESS": engines,
            "PARLEY_TTS_ADDRESS": engines,
            "PARLEY_ROOMS_STT_MODEL": "whisper-tiny.en",
        },
    )
    channel, ana, luis = await room(rooms.address)
    # Ana is still speaking (no silence after her words yet) when the server is told to stop.
    ana.send_audio(np.concatenate([silence(0.3), speak("Good morning, how are you today?", "en")]))
    await luis.wait_for(
        lambda e: [u for u in luis.of("participant_updated") if u.participant.speaking]
    )
    rooms.process.send_signal(signal.SIGTERM)
    for p in (ana, luis):
        await p.wait_for(lambda e, p=p: p.of("room_closed"), within_s=30)
        await asyncio.wait_for(p._reader, 10)
        assert p.error is None  # a clean end of stream, not an error
        kinds = [e.WhichOneof("event") for e in p.events]
        assert kinds[-1] == "room_closed"
        assert p.of("room_closed")[0].reason == "the server is shutting down"
        shutting = [n for n in p.of("notice") if n.code == rooms_pb2.NOTICE_CODE_SHUTTING_DOWN]
        assert shutting and "shutting down" in shutting[0].message
    # What Ana was saying was finished: Luis got it translated (and spoken) before the end.
    (caption,) = luis.finals()
    assert "buen" in caption.text.lower() and "hoy" in caption.text.lower(), caption.text
    assert luis.audio(caption.utterance_id)
    assert [c.original_text for c in ana.finals()] == [caption.original_text]
    assert await asyncio.to_thread(rooms.process.wait, 20) == 0
    await channel.close()
