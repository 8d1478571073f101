"""ListLanguages: what rooms hear, translate into and speak, from the services behind them."""

from __future__ import annotations

import grpc
import pytest

from parley.server import running
from parley.v1 import rooms_pb2, rooms_pb2_grpc, stt_pb2, translate_pb2, tts_pb2
from services.rooms.config import RoomsConfig
from services.rooms.languages import room_languages
from services.rooms.servicer import service as rooms_service
from tests.rooms.conftest import LOOPBACK, room_server


def test_each_language_says_what_rooms_do_with_it():
    models = stt_pb2.ListModelsResponse(
        default_model="big",
        models=[
            stt_pb2.ModelInfo(name="big", languages=["en", "es", "de"]),
            stt_pb2.ModelInfo(name="small", languages=["en"]),
        ],
    )
    pairs = [
        translate_pb2.LanguagePair(source_language="en", target_language="es"),
        translate_pb2.LanguagePair(source_language="fr", target_language="es"),
        translate_pb2.LanguagePair(source_language="es", target_language="ca"),
    ]
    voices = [tts_pb2.Voice(languages=["es-ES"]), tts_pb2.Voice(languages=["en-US", "en-GB"])]
    found = {item.language: item for item in room_languages(models, pairs, voices).languages}
    assert list(found) == ["ca", "de", "en", "es"]
    assert found["es"].heard and found["es"].spoken
    assert list(found["es"].translated_from) == ["en", "fr"]
    assert not found["ca"].heard and not found["ca"].spoken
    assert list(found["ca"].translated_from) == ["es"]
    assert found["de"].heard and not found["de"].spoken and not found["de"].translated_from
    # Rooms set to another model hear what that one hears.
    small = room_languages(models, pairs, voices, model="small").languages
    assert [item.language for item in small if item.heard] == ["en"]


async def test_a_room_server_answers_from_its_services(engines):
    async with room_server(engines) as (stub, _):
        reply = await stub.ListLanguages(rooms_pb2.ListLanguagesRequest())
    found = {item.language: item for item in reply.languages}
    assert found["es"].heard and found["es"].spoken
    assert {"en", "fr", "pt"} <= set(found["es"].translated_from)
    assert found["de"].heard and found["de"].spoken and not found["de"].translated_from


async def test_a_silent_service_is_unavailable_with_a_reason(engines):
    config = RoomsConfig(stt_address=engines, translate_address="127.0.0.1:1", tts_address=engines)
    async with running([rooms_service(config)], LOOPBACK) as server:
        async with grpc.aio.insecure_channel(server.local_address) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await rooms_pb2_grpc.RoomServiceStub(channel).ListLanguages(
                    rooms_pb2.ListLanguagesRequest(), timeout=30
                )
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "did not say what it offers: UNAVAILABLE" in refused.value.details()
