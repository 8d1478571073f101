"""Text limits and undecodable requests of the TextToSpeechService."""

from __future__ import annotations

import grpc
import pytest

from parley.server import ServerConfig, running
from parley.v1 import tts_pb2, tts_pb2_grpc
from services.tts.config import TtsConfig
from services.tts.servicer import service


@pytest.fixture(scope="module")
async def channel():
    config = TtsConfig(tts_engines="pico,espeak-ng", tts_preload=False)
    loopback = ServerConfig(host="127.0.0.1", port=0, auth="disabled")
    async with running([service(config)], loopback) as server:
        async with grpc.aio.insecure_channel(server.local_address) as channel:
            yield channel


async def test_text_over_the_limit_names_the_setting(channel):
    stub = tts_pb2_grpc.TextToSpeechServiceStub(channel)
    request = tts_pb2.SynthesizeRequest(
        text="Hola. " * 4_000, voice=tts_pb2.VoiceSelection(language="es")
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Synthesize(request, timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "24000 characters long; the limit is 20000" in info.value.details()
    assert "PARLEY_TTS_MAX_TEXT_CHARS" in info.value.details()


@pytest.mark.parametrize("method", ["Synthesize", "StreamingSynthesize"])
async def test_invalid_utf8_is_invalid_argument(channel, method):
    data = b"\x0a\x06Hola \xff"  # text (field 1) = "Hola " and a lone 0xff byte
    path = f"/parley.v1.TextToSpeechService/{method}"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        if method == "Synthesize":
            await channel.unary_unary(path)(data, timeout=10)
        else:
            async for _ in channel.unary_stream(path)(data, timeout=10):
                pass
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "SynthesizeRequest message cannot be decoded" in info.value.details()
    assert "UTF-8" in info.value.details()
    # The same request, decodable, is spoken.
    good = tts_pb2.SynthesizeRequest(text="Hola", voice=tts_pb2.VoiceSelection(language="es"))
    reply = await tts_pb2_grpc.TextToSpeechServiceStub(channel).Synthesize(good, timeout=30)
    assert len(reply.audio) > 3200
