"""The OpenAI speech-to-text engine against a local server speaking that API."""

from __future__ import annotations

import io
import threading
from email import policy
from email.parser import BytesParser
from http.server import ThreadingHTTPServer

import grpc
import numpy as np
import pytest
import soundfile

from parley.server import ServerConfig, running
from parley.v1 import stt_pb2, stt_pb2_grpc
from services.stt.config import SttConfig
from services.stt.servicer import service
from tests.fake_http import JsonHandler
from tests.speech import silence, speak
from tests.stt.conftest import finals, recognize_stream


class FakeOpenAI(JsonHandler):
    """POST /v1/audio/transcriptions and /translations with OpenAI's request and reply shape."""

    requests: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server naming
        if self.headers.get("Authorization") != "Bearer sk-test":
            self.send_json(401, {"error": {"message": "Incorrect API key provided"}})
            return
        body = self.rfile.read(int(self.headers["Content-Length"]))
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        message = BytesParser(policy=policy.default).parsebytes(head + body)
        parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
        wav = parts.pop("file").get_payload(decode=True)
        samples, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
        fields = {name: part.get_content().strip() for name, part in parts.items()}
        self.requests.append(
            {"path": self.path, "rate": rate, "seconds": len(samples) / rate, **fields}
        )
        if self.path.endswith("/translations"):
            body = {"task": "translate", "language": "english", "text": "Good morning."}
        else:
            body = {"task": "transcribe", "language": "spanish", "text": "Buenos días."}
        self.send_json(200, body)


@pytest.fixture
def openai_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeOpenAI.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


async def test_openai_engine_sends_each_utterance_as_wav(openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    config = SttConfig(preload="lazy", openai_base_url=openai_server)
    clip = speak("Buenos días.", "es")
    samples = np.concatenate([silence(0.5), clip, silence(1.0)])
    async with running(
        [service(config)], ServerConfig(host="127.0.0.1", port=0, auth="disabled")
    ) as server:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = stt_pb2_grpc.SpeechToTextServiceStub(channel)
            models = await stub.ListModels(stt_pb2.ListModelsRequest())
            assert "openai:whisper-1" in [m.name for m in models.models]

            detect = stt_pb2.RecognitionConfig(model="openai:whisper-1")
            (result,) = finals(await recognize_stream(stub, samples, detect))
            assert result.text == "Buenos días." and result.language == "es"

            translate = stt_pb2.RecognitionConfig(
                model="openai:whisper-1",
                language="es",
                task=stt_pb2.RECOGNITION_TASK_TRANSLATE_TO_ENGLISH,
            )
            (result,) = finals(await recognize_stream(stub, samples, translate))
            assert result.text == "Good morning." and result.language == "en"

    first, second = FakeOpenAI.requests
    assert first["path"] == "/v1/audio/transcriptions" and first["model"] == "whisper-1"
    assert "language" not in first and first["response_format"] == "verbose_json"
    assert second["path"] == "/v1/audio/translations"
    assert first["rate"] == 16_000 and 0.8 < first["seconds"] < clip.size / 16_000 + 0.6


async def test_openai_engine_reports_a_bad_key_as_unavailable(openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    config = SttConfig(preload="lazy", openai_base_url=openai_server)
    samples = np.concatenate([speak("Buenos días.", "es"), silence(1.0)])
    async with running(
        [service(config)], ServerConfig(host="127.0.0.1", port=0, auth="disabled")
    ) as server:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = stt_pb2_grpc.SpeechToTextServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await recognize_stream(
                    stub, samples, stt_pb2.RecognitionConfig(model="openai:whisper-1")
                )
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "OpenAI API answered 401" in info.value.details()
