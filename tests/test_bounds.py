"""Bounded resources: no request can make a `parley serve` allocate without limit.

One server process takes the worst case of every limit, one after the other, each answered with
a clear status naming the limit; the last test checks that its resident memory stayed within
1.5 GB of what it used idle (read from /proc, as an operator would).
"""

from __future__ import annotations

import io
import struct
import sys
from pathlib import Path

import grpc
import numpy as np
import pytest
import soundfile

from parley.v1 import (
    audio_pb2,
    rooms_pb2,
    rooms_pb2_grpc,
    stt_pb2,
    stt_pb2_grpc,
    translate_pb2,
    translate_pb2_grpc,
    tts_pb2,
    tts_pb2_grpc,
)
from tests.conftest import start_process
from tests.speech import pcm16, silence, wer
from tests.voices import Voice, say

INVALID, EXHAUSTED = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED
RSS_BOUND_MB = 1536
SENTENCE = "Please send me the report before Friday."
ENGLISH = tts_pb2.VoiceSelection(language="en")


def memory_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory (VmRSS) or its peak since the process started (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field}")


class Server:
    def __init__(self, process) -> None:
        self.process = process
        self.channel = grpc.aio.insecure_channel(
            process.address, options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)]
        )
        self.stt = stt_pb2_grpc.SpeechToTextServiceStub(self.channel)
        self.tts = tts_pb2_grpc.TextToSpeechServiceStub(self.channel)
        self.rooms = rooms_pb2_grpc.RoomServiceStub(self.channel)
        self.translation = translate_pb2_grpc.TranslationServiceStub(self.channel)
        self.idle_mb = 0.0


@pytest.fixture(scope="module")
async def server():
    process = start_process(
        [str(Path(sys.executable).parent / "parley"), "serve"],
        timeout=120,
        env={"PARLEY_STT_PRELOAD": "start"},
    )
    served = Server(process)
    try:
        # Warm up every engine once, so that the idle figure holds the models.
        clip = pcm16(np.concatenate([say(SENTENCE, Voice("pico", "en-US", "en")), silence(0.5)]))
        heard = await served.stt.Recognize(
            stt_pb2.RecognizeRequest(config=stt_pb2.RecognitionConfig(language="en"), audio=clip),
            timeout=120,
        )
        assert wer(SENTENCE, heard.results[0].text) <= 0.2
        await served.tts.Synthesize(tts_pb2.SynthesizeRequest(text=SENTENCE, voice=ENGLISH),
                                    timeout=60)  # fmt: skip
        await served.translation.Translate(
            translate_pb2.TranslateRequest(texts=["Hello"], source_language="en",
                                           target_languages=["es"]), timeout=60)  # fmt: skip
        served.idle_mb = memory_mb(process.process.pid)
        yield served
    finally:
        await served.channel.close()
        process.process.terminate()
        process.process.wait(timeout=30)


async def refused(call, code: grpc.StatusCode, *needles: str) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == code, info.value.details()
    details = info.value.details()
    for needle in needles:
        assert needle in details, details
    assert len(details) <= 1000
    return details


def wav_claiming(rate: int) -> bytes:
    """141 KB of real speech in a WAV file whose header claims ``rate`` Hz."""
    buffer = io.BytesIO()
    speech = say(SENTENCE, Voice("espeak", "en", "en"))
    soundfile.write(buffer, np.tile(speech, 3)[:70_000], 16_000, format="WAV", subtype="PCM_16")
    data = bytearray(buffer.getvalue())
    data[24:28] = struct.pack("<I", rate)  # sample rate
    data[28:32] = struct.pack("<I", rate * 2)  # byte rate
    return bytes(data)


@pytest.mark.parametrize("rate", [8, 1, 1_000_000_000])
async def test_recognize_refuses_a_wav_header_with_an_impossible_rate(server, rate):
    wav = audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_WAV)
    request = stt_pb2.RecognizeRequest(
        config=stt_pb2.RecognitionConfig(language="en", audio_format=wav), audio=wav_claiming(rate)
    )
    await refused(server.stt.Recognize(request, timeout=10), INVALID,
                  f"sample rate {rate} Hz is outside 8000-192000 Hz")  # fmt: skip


async def test_recognize_refuses_audio_longer_than_its_limit(server):
    # 15.5 MB of 8 kHz LINEAR16: 16 minutes, over the 15-minute limit.
    rate = audio_pb2.AudioFormat(sample_rate_hz=8_000)
    request = stt_pb2.RecognizeRequest(
        config=stt_pb2.RecognitionConfig(language="en", audio_format=rate),
        audio=bytes(8_000 * 2 * 60 * 16),
    )
    await refused(server.stt.Recognize(request, timeout=30), EXHAUSTED, "the limit is 900 s")


async def test_a_wav_file_that_is_not_one_is_explained_without_python_internals(server):
    wav = audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_WAV)
    request = stt_pb2.RecognizeRequest(
        config=stt_pb2.RecognitionConfig(audio_format=wav), audio=b"RIFF" + bytes(100)
    )
    details = await refused(server.stt.Recognize(request, timeout=10), INVALID,
                            "not a readable WAV file")  # fmt: skip
    assert "object at 0x" not in details and "_io" not in details


async def test_synthesize_refuses_an_answer_too_large_before_working(server):
    big = audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_FLOAT32, sample_rate_hz=192_000)
    text = ("Please send me the report before Friday. " * 500)[:19_990]
    request = tts_pb2.SynthesizeRequest(text=text, voice=ENGLISH, audio_format=big)
    calls = [server.tts.Synthesize(request, timeout=10) for _ in range(2)]
    for call in calls:  # two at once, as the report tried
        await refused(call, EXHAUSTED, "PARLEY_TTS_MAX_CLIP_BYTES", "StreamingSynthesize")
    # The same text streams.
    stream = server.tts.StreamingSynthesize(
        tts_pb2.StreamingSynthesizeRequest(text=text[:2000], voice=ENGLISH, audio_format=big),
        timeout=120,
    )
    assert sum([len(r.audio) async for r in stream]) > 192_000 * 4 * 10


async def test_a_clip_that_grows_past_the_limit_is_stopped(server):
    # Short enough to pass the estimate (0.04 s a character: 7.7 MB at 192 kHz FLOAT32), long
    # enough as Piper speaks it (about 0.05 s a character) to pass 8 MiB.
    text = ("Please send me the report before Friday, and the minutes of the meeting. " * 4)[:250]
    big = audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_FLOAT32, sample_rate_hz=192_000)
    request = tts_pb2.SynthesizeRequest(text=text, voice=ENGLISH, audio_format=big)
    await refused(server.tts.Synthesize(request, timeout=30), EXHAUSTED,
                  "PARLEY_TTS_MAX_CLIP_BYTES")  # fmt: skip


def _recognition(**endpointing) -> stt_pb2.StreamingRecognizeRequest:
    return stt_pb2.StreamingRecognizeRequest(
        config=stt_pb2.RecognitionConfig(
            language="en", endpointing=stt_pb2.EndpointingConfig(**endpointing)
        )
    )


@pytest.mark.parametrize(
    ("field", "setting"),
    [("max_utterance_ms", "PARLEY_STT_MAX_UTTERANCE_MS"),
     ("min_silence_ms", "PARLEY_STT_MAX_SILENCE_MS")],
)  # fmt: skip
async def test_endpointing_limits_are_capped_by_the_server(server, field, setting):
    call = server.stt.StreamingRecognize(iter([_recognition(**{field: 2**31 - 1})]), timeout=10)
    await refused(call.read(), INVALID, f"endpointing.{field}", setting)


async def test_room_sizes_are_bounded(server):
    huge_name = rooms_pb2.CreateRoomRequest(name="x" * (9 * 1024 * 1024))
    await refused(server.rooms.CreateRoom(huge_name, timeout=10), INVALID, "name is")
    limits = rooms_pb2.RoomLimits()
    limits.empty_timeout.FromSeconds(10**11)
    await refused(
        server.rooms.CreateRoom(rooms_pb2.CreateRoomRequest(limits=limits), timeout=10),
        INVALID, "limits.empty_timeout", "PARLEY_ROOMS_MAX_EMPTY_TIMEOUT_S",
    )  # fmt: skip
    long_speech = rooms_pb2.RoomLimits(max_utterance_ms=2**31 - 1)
    await refused(
        server.rooms.CreateRoom(rooms_pb2.CreateRoomRequest(limits=long_speech), timeout=10),
        INVALID, "limits.max_utterance_ms",
    )  # fmt: skip
    await refused(
        server.rooms.CloseRoom(rooms_pb2.CloseRoomRequest(room_id="a", reason="r" * 5000)),
        INVALID, "reason is",
    )  # fmt: skip
    # Everyone can still list the rooms.
    await server.rooms.ListRooms(rooms_pb2.ListRoomsRequest(), timeout=10)


async def test_errors_quote_only_a_prefix_of_what_the_client_sent(server):
    long = "q" * 100_000
    await refused(server.rooms.GetRoom(rooms_pb2.GetRoomRequest(room_id=long), timeout=10),
                  grpc.StatusCode.NOT_FOUND, "(100,000 characters)")  # fmt: skip
    request = translate_pb2.TranslateRequest(
        texts=["Hello"], source_language=long, target_languages=["es"]
    )
    await refused(server.translation.Translate(request, timeout=10), INVALID,
                  "(100,000 characters)")  # fmt: skip
    synth = tts_pb2.SynthesizeRequest(text="Hello", voice=tts_pb2.VoiceSelection(language=long))
    await refused(server.tts.Synthesize(synth, timeout=10), INVALID, "(100,000 characters)")
    recognition = stt_pb2.RecognizeRequest(config=stt_pb2.RecognitionConfig(model=long))
    await refused(server.stt.Recognize(recognition, timeout=10), INVALID, "(100,000 characters)")


async def test_unknown_enum_values_are_refused_naming_the_field(server):
    config = stt_pb2.RecognitionConfig(language="en", task=99)
    await refused(server.stt.Recognize(stt_pb2.RecognizeRequest(config=config), timeout=10),
                  INVALID, "config.task has no value 99")  # fmt: skip
    room = await server.rooms.CreateRoom(rooms_pb2.CreateRoomRequest(open=True), timeout=10)
    join = rooms_pb2.JoinRequest(
        join=rooms_pb2.JoinRoom(room_id=room.room.room_id, listen_language="es", delivery=77)
    )
    call = server.rooms.Join(iter([join]), timeout=10)
    await refused(call.read(), INVALID, "join.delivery has no value 77")


async def test_memory_stayed_bounded(server):
    """Runs after the worst cases above (pytest keeps a module's order): the process's peak
    resident memory (VmHWM) stayed within the bound of what it used idle."""
    peak = memory_mb(server.process.process.pid, "VmHWM")
    assert peak - server.idle_mb < RSS_BOUND_MB, f"idle {server.idle_mb:.0f} MB, peak {peak:.0f}"
