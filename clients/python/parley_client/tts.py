"""Text-to-speech client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import numpy as np

from parley.v1 import audio_pb2, tts_pb2, tts_pb2_grpc
from parley_client.audio import from_pcm16


@dataclass(frozen=True)
class Speech:
    """Synthesised speech: mono float samples, their rate, and the voice that spoke."""

    samples: np.ndarray
    rate: int
    voice: str

    @property
    def seconds(self) -> float:
        return self.samples.shape[0] / self.rate


class TextToSpeech:
    """Client of ``parley.v1.TextToSpeechService``."""

    def __init__(self, channel: grpc.aio.Channel, timeout_s: float) -> None:
        self._stub = tts_pb2_grpc.TextToSpeechServiceStub(channel)
        self._timeout = timeout_s

    @staticmethod
    def _request(message_type, text: str, language: str, voice: str, rate: int):
        return message_type(
            text=text,
            voice=tts_pb2.VoiceSelection(language=language, voice=voice),
            audio_format=audio_pb2.AudioFormat(
                encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hz=rate
            ),
        )

    async def synthesize(
        self, text: str, language: str = "", voice: str = "", rate: int = 0
    ) -> Speech:
        """The whole clip (``rate`` 0: the voice's own rate)."""
        reply = await self._stub.Synthesize(
            self._request(tts_pb2.SynthesizeRequest, text, language, voice, rate),
            timeout=self._timeout,
        )
        return Speech(from_pcm16(reply.audio), reply.audio_format.sample_rate_hz, reply.voice.name)

    async def stream(
        self, text: str, language: str = "", voice: str = "", rate: int = 0
    ) -> AsyncIterator[Speech]:
        """The speech as it is produced, piece by piece."""
        request = self._request(tts_pb2.StreamingSynthesizeRequest, text, language, voice, rate)
        out_rate, name = rate, voice
        async for reply in self._stub.StreamingSynthesize(request):
            if reply.HasField("audio_format"):
                out_rate, name = reply.audio_format.sample_rate_hz, reply.voice.name
            yield Speech(from_pcm16(reply.audio), out_rate, name)

    async def voices(self, language: str = "", engine: str = "") -> list[tts_pb2.Voice]:
        response = await self._stub.ListVoices(
            tts_pb2.ListVoicesRequest(language=language, engine=engine), timeout=self._timeout
        )
        return list(response.voices)
