"""Bad input to the SpeechToTextService gets a clear status."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from parley.v1 import audio_pb2, stt_pb2
from tests.speech import silence, speak, wer
from tests.stt.conftest import finals, recognize_stream


async def expect_error(stub, requests) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in stub.StreamingRecognize(iter(requests)):
            pass
    return info.value


def audio_request(data: bytes = b"\0\0" * 1600) -> stt_pb2.StreamingRecognizeRequest:
    return stt_pb2.StreamingRecognizeRequest(audio=audio_pb2.AudioChunk(data=data))


def config_request(**fields) -> stt_pb2.StreamingRecognizeRequest:
    return stt_pb2.StreamingRecognizeRequest(config=stt_pb2.RecognitionConfig(**fields))


async def test_audio_before_config(stt_stub):
    error = await expect_error(stt_stub, [audio_request()])
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "first message must be a RecognitionConfig" in error.details()


async def test_second_config(stt_stub):
    error = await expect_error(stt_stub, [config_request(), audio_request(), config_request()])
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"language": "xx"}, "does not recognise 'xx'"),
        ({"model": "whisper-huge"}, "unknown model 'whisper-huge'; available: whisper-base"),
        ({"model": "whisper-tiny.en", "language": "es"}, "does not recognise 'es'; it knows en"),
        (
            {"model": "whisper-tiny.en", "task": stt_pb2.RECOGNITION_TASK_TRANSLATE_TO_ENGLISH},
            "English-only and cannot translate",
        ),
        (
            {"audio_format": audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_WAV)},
            "stream LINEAR16 or FLOAT32",
        ),
        ({"audio_format": audio_pb2.AudioFormat(sample_rate_hz=5)}, "outside 8000-192000 Hz"),
        ({"audio_format": audio_pb2.AudioFormat(sample_rate_hz=10**9)}, "outside"),
        (
            {"audio_format": audio_pb2.AudioFormat(encoding=42)},
            "StreamingRecognizeRequest.config.audio_format.encoding has no value 42",
        ),
        ({"task": 99}, "StreamingRecognizeRequest.config.task has no value 99 (known: "),
        ({"endpointing": stt_pb2.EndpointingConfig(speech_threshold=3)}, "speech_threshold"),
    ],
)
async def test_bad_config_is_invalid_argument(stt_stub, fields, message):
    error = await expect_error(stt_stub, [config_request(**fields), audio_request()])
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in error.details()


async def test_garbage_bytes_do_not_break_the_stream(stt_stub):
    rng = np.random.default_rng(3)
    garbage = rng.integers(0, 256, 16_000 * 2, dtype=np.uint8).tobytes()
    speech = np.concatenate([silence(0.5), speak("Good morning everyone.", "en"), silence(1.0)])
    results = finals(
        await recognize_stream(
            stt_stub,
            garbage + (np.clip(speech, -1, 1) * 32767).astype("<i2").tobytes(),
            stt_pb2.RecognitionConfig(language="en"),
        )
    )
    # Garbage is loud noise: it may or may not be heard as an utterance, but the speech after
    # it must still be recognised.
    assert results and wer("Good morning everyone.", results[-1].text) <= 0.34


async def test_empty_stream_and_config_only(stt_stub):
    assert [r async for r in stt_stub.StreamingRecognize(iter([]))] == []
    assert [r async for r in stt_stub.StreamingRecognize(iter([config_request()]))] == []


async def test_recognize_rejects_partial_samples(stt_stub):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stt_stub.Recognize(stt_pb2.RecognizeRequest(audio=b"\x01\x02\x03"))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a whole number" in info.value.details()
