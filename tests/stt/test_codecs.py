"""Compressed speech in: Opus (Ogg, WebM, raw packets), FLAC, mu-law and A-law, streamed in
chunks cut anywhere and sent whole, recognised as well as the same speech in PCM."""

from __future__ import annotations

import random

import grpc
import numpy as np
import pytest

from parley.v1 import audio_pb2, stt_pb2
from tests.encoded import encode
from tests.speech import silence, wer
from tests.stt.conftest import finals
from tests.voices import Voice, say

ENUM = {
    "ogg_opus": audio_pb2.AUDIO_ENCODING_OGG_OPUS,
    "webm_opus": audio_pb2.AUDIO_ENCODING_WEBM_OPUS,
    "opus": audio_pb2.AUDIO_ENCODING_OPUS,
    "flac": audio_pb2.AUDIO_ENCODING_FLAC,
    "mulaw": audio_pb2.AUDIO_ENCODING_MULAW,
    "alaw": audio_pb2.AUDIO_ENCODING_ALAW,
}
RATE = {"mulaw": 8_000, "alaw": 8_000, "opus": 48_000}
SPOKEN = [
    ("en", "Please send me the report before Friday.", Voice("pico", "en-US", "en")),
    ("es", "Por favor, envíame el informe antes del viernes.", Voice("pico", "es-ES", "es")),
    ("en", "We need two more chairs for the guests.", Voice("piper", "joe", "en")),
]


def config(encoding: str, language: str) -> stt_pb2.RecognitionConfig:
    return stt_pb2.RecognitionConfig(
        language=language,
        audio_format=audio_pb2.AudioFormat(
            encoding=ENUM[encoding], sample_rate_hz=RATE.get(encoding, 0)
        ),
    )


def chunks(data, seed: int) -> list[bytes]:
    """Raw Opus: one packet a chunk. Otherwise cut at random places, 1-900 bytes apart."""
    if isinstance(data, list):
        return data
    rng, found, at = random.Random(seed), [], 0
    while at < len(data):
        size = rng.randint(1, 900)
        found.append(data[at : at + size])
        at += size
    return found


async def stream(stub, pieces: list[bytes], cfg) -> list[stt_pb2.StreamingRecognizeResponse]:
    def requests():
        yield stt_pb2.StreamingRecognizeRequest(config=cfg)
        for piece in pieces:
            yield stt_pb2.StreamingRecognizeRequest(audio=audio_pb2.AudioChunk(data=piece))

    return [r async for r in stub.StreamingRecognize(requests(), timeout=120)]


@pytest.mark.parametrize("encoding", list(ENUM))
async def test_compressed_speech_streamed_in_pieces_is_heard_word_for_word(stt_stub, encoding):
    for n, (language, text, voice) in enumerate(SPOKEN):
        speech = np.concatenate([silence(0.3), say(text, voice), silence(1.0)])
        data = encode(speech, encoding)
        heard = finals(await stream(stt_stub, chunks(data, n), config(encoding, language)))
        joined = " ".join(r.text for r in heard)
        # Telephony's 8 kHz loses everything above 4 kHz ("a las ocho" heard "a la socho").
        bound = 0.25 if encoding in ("mulaw", "alaw") else 0.15
        assert wer(text, joined) <= bound, f"{encoding} {voice.label}: {joined!r}"
        # Heard as late as the same speech in PCM: the last words are not held back.
        assert heard[-1].end_offset.ToMilliseconds() <= 1000 * speech.size / 16_000


@pytest.mark.parametrize("encoding", ["ogg_opus", "webm_opus"])
async def test_a_container_is_heard_without_waiting_for_the_next_chunk(stt_stub, encoding):
    """A client that sends a recording and then waits (push-to-talk, a file) gets its final
    while the stream is still open: what the decoder finishes after a chunk is heard at once."""
    language, text, voice = SPOKEN[0]
    data = encode(np.concatenate([silence(0.3), say(text, voice), silence(1.5)]), encoding)
    call = stt_stub.StreamingRecognize(timeout=30)  # it used to wait for the deadline
    await call.write(stt_pb2.StreamingRecognizeRequest(config=config(encoding, language)))
    await call.write(stt_pb2.StreamingRecognizeRequest(audio=audio_pb2.AudioChunk(data=data)))
    while (response := await call.read()) is not grpc.aio.EOF:  # no more writes, no half-close
        if response.HasField("result") and response.result.is_final:
            break
    assert response is not grpc.aio.EOF
    assert wer(text, response.result.text) <= 0.15, response.result.text
    await call.done_writing()
    while await call.read() is not grpc.aio.EOF:
        pass


@pytest.mark.parametrize("encoding", ["ogg_opus", "flac", "mulaw"])
async def test_a_whole_compressed_clip_is_recognized(stt_stub, encoding):
    language, text, voice = SPOKEN[0]
    data = encode(np.concatenate([say(text, voice), silence(0.5)]), encoding)
    reply = await stt_stub.Recognize(
        stt_pb2.RecognizeRequest(config=config(encoding, language), audio=data), timeout=120
    )
    assert wer(text, " ".join(r.text for r in reply.results)) <= 0.15


@pytest.mark.parametrize("encoding", ["ogg_opus", "webm_opus", "flac", "opus"])
async def test_bytes_that_are_not_that_encoding_get_a_clear_invalid_argument(stt_stub, encoding):
    garbage = random.Random(7).randbytes(8000)
    call = stt_stub.StreamingRecognize(timeout=60)
    await call.write(stt_pb2.StreamingRecognizeRequest(config=config(encoding, "en")))
    await call.write(stt_pb2.StreamingRecognizeRequest(audio=audio_pb2.AudioChunk(data=garbage)))
    await call.done_writing()  # before the answer: no write can race it
    assert await call.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "audio" in await call.details()


async def test_a_small_flac_of_an_hour_of_silence_is_refused_before_it_is_decoded_whole(stt_stub):
    data = encode(np.zeros(16_000 * 3600, np.float32), "flac")
    assert len(data) < 2 << 20  # a small request...
    with pytest.raises(grpc.aio.AioRpcError) as refused:  # ... that would be 230 MB of audio
        await stt_stub.Recognize(
            stt_pb2.RecognizeRequest(config=config("flac", "en"), audio=data), timeout=120
        )
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "limit" in refused.value.details()
