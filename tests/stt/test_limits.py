"""Limits and misbehaving clients of the SpeechToTextService, on a server with small limits:
audio faster than real time is paced, a stream that never sends is ended, a message over the
size limit is refused, odd byte counts and wrong rate claims do not break a stream, invalid
UTF-8 is INVALID_ARGUMENT, and a client that vanishes mid-utterance releases its stream.

Audio before the config, a second config, garbage bytes and bad configs are in
test_bad_input.py (on the shared server)."""

from __future__ import annotations

import asyncio
import time

import grpc
import numpy as np
import pytest

from parley.server import ServerConfig, running
from parley.v1 import audio_pb2, stt_pb2, stt_pb2_grpc
from services.stt.config import SttConfig
from services.stt.servicer import service
from tests.speech import pcm16, silence, speak, wer
from tests.stt.conftest import finals, recognize_stream

HELLO = "Good morning everyone, how are you today?"
ENGLISH = stt_pb2.RecognitionConfig(language="en")


@pytest.fixture(scope="module")
async def strict():
    """(stub, server) of an STT server with a 1 s audio burst, a 0.5 s wait for the config and
    64 KiB messages."""
    config = SttConfig(
        default_model="whisper-tiny.en",
        preload="start",
        stt_audio_burst_s=1.0,
        stt_first_message_timeout_s=0.5,
    )
    limits = ServerConfig(host="127.0.0.1", port=0, auth="disabled", max_message_bytes=64 * 1024)
    async with running([service(config)], limits) as server:
        async with grpc.aio.insecure_channel(server.local_address) as channel:
            stub = stt_pb2_grpc.SpeechToTextServiceStub(channel)
            stub.channel = channel
            yield stub, server


def speech(text: str = HELLO, lead_s: float = 0.3) -> np.ndarray:
    return np.concatenate([silence(lead_s), speak(text, "en"), silence(1.0)])


async def open_streams_drop_to_zero(server, within_s: float = 5.0) -> None:
    for _ in range(int(within_s / 0.05)):
        if not sum(server.gate.open_streams.values()):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"streams still open: {dict(server.gate.open_streams)}")


async def test_audio_faster_than_real_time_is_paced_and_nothing_is_lost(strict):
    stub, _ = strict
    audio = speech(lead_s=3.0)  # about 6.5 s, sent as fast as the connection goes
    started = time.monotonic()
    results = finals(await recognize_stream(stub, audio, ENGLISH))
    elapsed = time.monotonic() - started
    # Beyond the 1 s burst it is read at real-time pace: the stream lasts about as long as the
    # audio (minus the burst); whisper-tiny alone would take well under 2 s.
    assert elapsed >= audio.size / 16_000 - 1.0 - 0.3, elapsed
    (result,) = results
    assert wer(HELLO, result.text) <= 0.25, result.text


async def test_a_stream_that_never_sends_is_ended(strict):
    stub, server = strict

    class Never:
        def __aiter__(self):
            return self

        async def __anext__(self):
            await asyncio.Event().wait()

    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in stub.StreamingRecognize(Never()):
            pass
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "no first message within 0.5 s" in info.value.details()
    assert "PARLEY_STT_FIRST_MESSAGE_TIMEOUT_S" in info.value.details()
    assert time.monotonic() - started < 5
    await open_streams_drop_to_zero(server)


async def test_a_message_over_the_size_limit_is_resource_exhausted(strict):
    stub, _ = strict
    big = pcm16(silence(3.0))  # 96 KB > 64 KiB
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Recognize(stt_pb2.RecognizeRequest(config=ENGLISH, audio=big))
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await recognize_stream(stub, big, ENGLISH, chunk_bytes=len(big))
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # The server goes on.
    (result,) = finals(await recognize_stream(stub, speech(), ENGLISH))
    assert wer(HELLO, result.text) <= 0.25


async def test_odd_byte_counts_are_joined(strict):
    stub, _ = strict
    data = pcm16(speech()) + b"\x01"  # and a lone byte at the very end
    (result,) = finals(await recognize_stream(stub, data, ENGLISH, chunk_bytes=1001))
    assert wer(HELLO, result.text) <= 0.25, result.text


@pytest.mark.parametrize("claimed", [8_000, 48_000])
async def test_a_wrong_sample_rate_claim_does_not_break_the_stream(strict, claimed):
    stub, _ = strict
    config = stt_pb2.RecognitionConfig(
        language="en", audio_format=audio_pb2.AudioFormat(sample_rate_hz=claimed)
    )
    # 16 kHz speech heard at half or three times its speed: whatever is recognised, the stream
    # ends normally, and the next one is recognised as usual.
    responses = await recognize_stream(stub, speech(), config)
    assert all(not r.HasField("result") or r.result.is_final for r in responses)
    (result,) = finals(await recognize_stream(stub, speech(), ENGLISH))
    assert wer(HELLO, result.text) <= 0.25


async def test_invalid_utf8_is_invalid_argument(strict):
    stub, _ = strict
    # RecognitionConfig.language (field 2) = b"\xff\xfe": in a stream's config, and in Recognize.
    config = b"\x12\x02\xff\xfe"
    raw_stream = _raw(stub, "StreamingRecognize", stream=True)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in raw_stream(iter([b"\x0a" + bytes([len(config)]) + config])):
            pass
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "StreamingRecognizeRequest message cannot be decoded" in info.value.details()
    raw_unary = _raw(stub, "Recognize", stream=False)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await raw_unary(b"\x0a" + bytes([len(config)]) + config)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "UTF-8" in info.value.details()


def _raw(stub, method: str, stream: bool):
    """A multicallable of the stub's channel that sends bytes as they are."""
    channel = stub.channel
    path = f"/parley.v1.SpeechToTextService/{method}"
    make = channel.stream_stream if stream else channel.unary_unary
    return make(path, request_serializer=None, response_deserializer=None)


async def test_a_client_that_vanishes_mid_utterance_releases_its_stream(strict):
    stub, server = strict
    requests: asyncio.Queue = asyncio.Queue()
    requests.put_nowait(stt_pb2.StreamingRecognizeRequest(config=ENGLISH))
    half = pcm16(speak(HELLO, "en"))[: 16_000 * 2]
    for i in range(0, len(half), 3200):
        requests.put_nowait(
            stt_pb2.StreamingRecognizeRequest(audio=audio_pb2.AudioChunk(data=half[i : i + 3200]))
        )

    async def feed():
        while True:
            yield await requests.get()

    call = stub.StreamingRecognize(feed())
    await asyncio.sleep(1.5)  # mid-utterance: speech started, no end in sight
    assert sum(server.gate.open_streams.values()) == 1
    call.cancel()
    await open_streams_drop_to_zero(server)
    (result,) = finals(await recognize_stream(stub, speech(), ENGLISH))
    assert wer(HELLO, result.text) <= 0.25
