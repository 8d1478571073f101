"""The ElevenLabs engine against a local server that speaks the ElevenLabs HTTP API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import grpc
import numpy as np
import pytest

from parley.server import running
from parley.settings import resolve
from parley.v1 import audio_pb2, tts_pb2, tts_pb2_grpc
from services.tts.config import TtsConfig
from services.tts.servicer import service
from tests.fake_http import JsonHandler
from tests.tts.conftest import SERVER, decode, rms

KEY = "test-key"
VOICES = [
    {
        "voice_id": "21m00Tcm4TlvDq8ikWAM",
        "name": "Rachel",
        "labels": {"gender": "female", "accent": "american"},
        "verified_languages": [
            {"language": "en", "model_id": "eleven_multilingual_v2", "accent": "american"},
            {"language": "es", "model_id": "eleven_multilingual_v2", "accent": "mexican"},
        ],
    },
    {"voice_id": "pNInz6obpgDQGcFmaJgB", "name": "Adam", "labels": {"gender": "male"}},
]
SECONDS_PER_WORD = 0.3


class ElevenLabsHandler(JsonHandler):
    """GET /v1/voices and POST /v1/text-to-speech/{voice_id}/stream, as ElevenLabs answers."""

    protocol_version = "HTTP/1.1"
    seen: list[dict] = []

    def _authorised(self) -> bool:
        if self.headers.get("xi-api-key") == KEY:
            return True
        self.send_json(401, {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}})
        return False

    def do_GET(self) -> None:
        if urlparse(self.path).path != "/v1/voices":
            return self.send_json(404, {"detail": "Not Found"})
        if self._authorised():
            self.send_json(200, {"voices": VOICES})

    def do_POST(self) -> None:
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if len(parts) != 4 or parts[:2] != ["v1", "text-to-speech"] or parts[3] != "stream":
            return self.send_json(404, {"detail": "Not Found"})
        if not self._authorised():
            return None
        query = parse_qs(url.query)
        self.seen.append({"voice_id": parts[2], "query": query, "body": body})
        if parts[2] not in {v["voice_id"] for v in VOICES}:
            return self.send_json(404, {"detail": {"status": "voice_not_found"}})
        if body.get("text") == "over quota":
            return self.send_json(429, {"detail": {"status": "quota_exceeded"}})
        if not body.get("text") or not body.get("model_id"):
            return self.send_json(422, {"detail": "text and model_id are required"})
        rate = int(query["output_format"][0].removeprefix("pcm_"))
        self.send_response(200)
        self.send_header("Content-Type", "audio/pcm")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for piece in _speech(body["text"], rate):
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


def _speech(text: str, rate: int) -> Iterator[bytes]:
    """A 220 Hz tone, 0.3 s per word, as s16le in pieces of an odd size."""
    count = int(len(text.split()) * SECONDS_PER_WORD * rate)
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(count) / rate)
    data = (tone * 32767).astype("<i2").tobytes()
    for start in range(0, len(data), 1001):
        yield data[start : start + 1001]


@pytest.fixture(scope="module")
def api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), ElevenLabsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
async def stub(api):
    config = TtsConfig(
        tts_engines="elevenlabs,pico",
        tts_elevenlabs_api_key=KEY,
        tts_elevenlabs_url=api,
        tts_preload=False,
    )
    async with running([service(config)], SERVER) as server:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield tts_pb2_grpc.TextToSpeechServiceStub(channel)


async def test_the_account_voices_are_listed_and_ranked_first(stub):
    reply = await stub.ListVoices(tts_pb2.ListVoicesRequest(engine="elevenlabs"))
    voices = {v.name: v for v in reply.voices}
    rachel, adam = (
        voices["elevenlabs:21m00Tcm4TlvDq8ikWAM"],
        voices["elevenlabs:pNInz6obpgDQGcFmaJgB"],
    )
    assert list(rachel.languages) == ["en", "es"]
    assert rachel.gender == tts_pb2.VOICE_GENDER_FEMALE and adam.gender == tts_pb2.VOICE_GENDER_MALE
    assert rachel.quality == tts_pb2.VOICE_QUALITY_NEURAL and rachel.sample_rate_hz == 24_000
    assert "de" in adam.languages, "no verified languages: the model's languages"
    assert {"en", "es"} <= set(rachel.default_for_languages)


async def test_speech_streams_from_the_api_at_the_asked_rate(stub):
    ElevenLabsHandler.seen.clear()
    text = "Hola a todos, bienvenidos a la reunión de hoy."
    request = tts_pb2.StreamingSynthesizeRequest(
        text=text,
        voice=tts_pb2.VoiceSelection(language="es", voice="elevenlabs:pNInz6obpgDQGcFmaJgB"),
        audio_format=audio_pb2.AudioFormat(sample_rate_hz=16_000),
        options=tts_pb2.SynthesisOptions(speaking_rate=1.1),
    )
    replies = [r async for r in stub.StreamingSynthesize(request, timeout=30)]
    assert len(replies) > 5
    assert replies[0].audio_format.sample_rate_hz == 16_000
    samples = decode(b"".join(r.audio for r in replies), audio_pb2.AUDIO_ENCODING_LINEAR16)
    expected = len(text.split()) * SECONDS_PER_WORD
    assert abs(samples.shape[0] / 16_000 - expected) < 0.01
    assert rms(samples) > 0.1
    (call,) = ElevenLabsHandler.seen
    assert call["voice_id"] == "pNInz6obpgDQGcFmaJgB"
    assert call["query"] == {"output_format": ["pcm_24000"]}
    assert call["body"]["text"] == text
    assert call["body"]["model_id"] == "eleven_multilingual_v2"
    assert call["body"]["voice_settings"]["speed"] == pytest.approx(1.1)


async def test_api_errors_become_status_codes(stub):
    request = tts_pb2.SynthesizeRequest(
        text="over quota", voice=tts_pb2.VoiceSelection(language="en", engine="elevenlabs")
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Synthesize(request, timeout=30)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "quota" in info.value.details()


async def test_a_rejected_key_leaves_the_engine_out(api):
    config = TtsConfig(
        tts_engines="elevenlabs,pico",
        tts_elevenlabs_api_key="wrong",
        tts_elevenlabs_url=api,
        tts_preload=False,
    )
    async with running([service(config)], SERVER) as server:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = tts_pb2_grpc.TextToSpeechServiceStub(channel)
            listed = await stub.ListVoices(tts_pb2.ListVoicesRequest(engine="elevenlabs"))
            assert list(listed.voices) == []
            request = tts_pb2.SynthesizeRequest(
                text="hi", voice=tts_pb2.VoiceSelection(language="en", engine="elevenlabs")
            )
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.Synthesize(request)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "available: pico" in info.value.details()
            spoken = await stub.Synthesize(
                tts_pb2.SynthesizeRequest(text="hi", voice=tts_pb2.VoiceSelection(language="en"))
            )
            assert spoken.voice.name == "pico:en-US"


def test_the_key_comes_from_the_environment():
    assert resolve(TtsConfig, environ={}).tts_elevenlabs_api_key == ""
    config = resolve(TtsConfig, environ={"ELEVENLABS_API_KEY": "secret"})
    assert config.tts_elevenlabs_api_key == "secret"
    assert "secret" not in repr(config)
