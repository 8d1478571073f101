"""A TextToSpeechService on 127.0.0.1:0 shared by the TTS tests, and helpers to call it."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
import numpy as np
import pytest

from parley.server import ServerConfig, running
from parley.v1 import audio_pb2, tts_pb2, tts_pb2_grpc
from services.tts.config import TtsConfig
from services.tts.servicer import service

SERVER = ServerConfig(host="127.0.0.1", port=0, auth="disabled")

# One sentence per language, with its word count for duration checks.
SENTENCES = {
    "en": "The weather is lovely today, so we are going to the park.",
    "es": "Hoy hace muy buen tiempo, así que vamos a ir al parque.",
    "fr": "Il fait très beau aujourd'hui, alors nous allons au parc.",
    "de": "Heute ist das Wetter sehr schön, also gehen wir in den Park.",
    "it": "Oggi il tempo è bellissimo, quindi andiamo al parco.",
}


@dataclass
class Spoken:
    """What a StreamingSynthesize call returned."""

    samples: np.ndarray
    rate: int
    replies: list[tts_pb2.StreamingSynthesizeResponse]

    @property
    def seconds(self) -> float:
        return self.samples.shape[0] / self.rate

    @property
    def voice(self) -> tts_pb2.Voice:
        return self.replies[0].voice


@pytest.fixture(scope="session")
async def tts_stub():
    """A stub of a server with every engine available here (no Coqui, no ElevenLabs)."""
    async with running([service(TtsConfig(tts_preload=False))], SERVER) as server:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield tts_pb2_grpc.TextToSpeechServiceStub(channel)


def decode(data: bytes, encoding: int) -> np.ndarray:
    if encoding == audio_pb2.AUDIO_ENCODING_FLOAT32:
        return np.frombuffer(data, dtype="<f4").astype(np.float32)
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


async def speak(
    stub,
    text: str,
    language: str = "",
    *,
    voice: str = "",
    engine: str = "",
    speaker_key: str = "",
    rate: int = 0,
    encoding: int = audio_pb2.AUDIO_ENCODING_LINEAR16,
    speaking_rate: float = 0.0,
    trim_silence: bool = False,
) -> Spoken:
    """Streams ``text`` and returns the joined audio."""
    request = tts_pb2.StreamingSynthesizeRequest(
        text=text,
        voice=tts_pb2.VoiceSelection(
            language=language, voice=voice, engine=engine, speaker_key=speaker_key
        ),
        audio_format=audio_pb2.AudioFormat(encoding=encoding, sample_rate_hz=rate),
        options=tts_pb2.SynthesisOptions(speaking_rate=speaking_rate, trim_silence=trim_silence),
    )
    replies = [reply async for reply in stub.StreamingSynthesize(request, timeout=120)]
    fmt = replies[0].audio_format
    samples = decode(b"".join(r.audio for r in replies), fmt.encoding)
    return Spoken(samples, fmt.sample_rate_hz, replies)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0


def plausible_seconds(text: str, rate: float = 1.0) -> tuple[float, float]:
    """Bounds for speech of ``text``: 1 to 6 words per second, plus pauses, at ``rate``."""
    words = len(text.split())
    return words / 6.0 / rate, (words / 1.0 + 1.5) / rate
