"""Speech-to-text client."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

import grpc
import numpy as np

from parley.v1 import audio_pb2, stt_pb2, stt_pb2_grpc
from parley_client.audio import to_pcm16


class SpeechToText:
    """Client of ``parley.v1.SpeechToTextService``."""

    def __init__(self, channel: grpc.aio.Channel, timeout_s: float) -> None:
        self._stub = stt_pb2_grpc.SpeechToTextServiceStub(channel)
        self._timeout = timeout_s

    @staticmethod
    def config(
        language: str = "",
        model: str = "",
        rate: int = 16_000,
        translate_to_english: bool = False,
        interim_results: bool = False,
        word_timestamps: bool = False,
    ) -> stt_pb2.RecognitionConfig:
        """A RecognitionConfig for 16-bit mono PCM at ``rate``."""
        return stt_pb2.RecognitionConfig(
            model=model,
            language=language,
            task=stt_pb2.RECOGNITION_TASK_TRANSLATE_TO_ENGLISH
            if translate_to_english
            else stt_pb2.RECOGNITION_TASK_TRANSCRIBE,
            interim_results=interim_results,
            word_timestamps=word_timestamps,
            audio_format=audio_pb2.AudioFormat(
                encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hz=rate, channels=1
            ),
        )

    async def recognize(
        self, samples: np.ndarray, rate: int, language: str = "", model: str = ""
    ) -> list[stt_pb2.RecognitionResult]:
        """Final results, one per utterance, of a whole clip of mono float samples."""
        response = await self._stub.Recognize(
            stt_pb2.RecognizeRequest(
                config=self.config(language, model, rate), audio=to_pcm16(samples)
            ),
            timeout=max(self._timeout, samples.shape[0] / rate * 2),
        )
        return list(response.results)

    async def recognize_encoded(
        self, data: bytes, audio_format: audio_pb2.AudioFormat, language: str = "", model: str = ""
    ) -> list[stt_pb2.RecognitionResult]:
        """Final results of a whole clip in any input encoding the server takes (a WAV or FLAC
        file, Ogg or WebM Opus, G.711...), sent as it is."""
        config = stt_pb2.RecognitionConfig(
            language=language, model=model, audio_format=audio_format
        )
        response = await self._stub.Recognize(
            stt_pb2.RecognizeRequest(config=config, audio=data),
            timeout=max(self._timeout, 120.0),
        )
        return list(response.results)

    async def check(self, config: stt_pb2.RecognitionConfig) -> None:
        """Asks the server whether it takes ``config`` (a Recognize with no audio). A stream
        whose config is refused while audio is still being written may end with INTERNAL
        instead of the reason (grpc/grpc#36066); asking first gives the reason.

        Raises:
            grpc.aio.AioRpcError: with the reason the config is refused.
        """
        await self._stub.Recognize(stt_pb2.RecognizeRequest(config=config), timeout=self._timeout)

    async def stream(
        self, audio: AsyncIterable[bytes], config: stt_pb2.RecognitionConfig
    ) -> AsyncIterator[stt_pb2.StreamingRecognizeResponse]:
        """Streams PCM chunks (in ``config.audio_format``) and yields the responses."""

        async def requests():
            yield stt_pb2.StreamingRecognizeRequest(config=config)
            async for data in audio:
                yield stt_pb2.StreamingRecognizeRequest(audio=audio_pb2.AudioChunk(data=data))

        async for response in self._stub.StreamingRecognize(requests()):
            yield response

    async def models(self) -> stt_pb2.ListModelsResponse:
        return await self._stub.ListModels(stt_pb2.ListModelsRequest(), timeout=self._timeout)
