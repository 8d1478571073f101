"""A SpeechToTextService on 127.0.0.1:0 shared by the STT tests (models load once)."""

from __future__ import annotations

from collections.abc import Iterable

import grpc
import numpy as np
import pytest

from parley.server import ServerConfig, running
from parley.v1 import audio_pb2, stt_pb2, stt_pb2_grpc
from services.stt.config import SttConfig
from services.stt.servicer import service
from tests.speech import pcm16


@pytest.fixture(scope="session")
async def stt_stub():
    config = SttConfig(preload="start")
    async with running(
        [service(config)], ServerConfig(host="127.0.0.1", port=0, auth="disabled")
    ) as server:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield stt_pb2_grpc.SpeechToTextServiceStub(channel)


def stream_requests(
    samples: np.ndarray | bytes,
    config: stt_pb2.RecognitionConfig,
    chunk_bytes: int = 3200,
) -> Iterable[stt_pb2.StreamingRecognizeRequest]:
    """The config, then the audio in chunks (3200 bytes = 100 ms of 16 kHz LINEAR16)."""
    data = pcm16(samples) if isinstance(samples, np.ndarray) else samples
    yield stt_pb2.StreamingRecognizeRequest(config=config)
    for i in range(0, len(data), chunk_bytes):
        yield stt_pb2.StreamingRecognizeRequest(
            audio=audio_pb2.AudioChunk(data=data[i : i + chunk_bytes])
        )


async def recognize_stream(stub, samples, config, chunk_bytes=3200):
    """Streams audio and returns every response."""
    call = stub.StreamingRecognize(stream_requests(samples, config, chunk_bytes))
    return [response async for response in call]


def finals(responses) -> list[stt_pb2.RecognitionResult]:
    return [r.result for r in responses if r.HasField("result") and r.result.is_final]
