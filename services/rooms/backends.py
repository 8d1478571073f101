"""The room service's view of the three engine services: gRPC clients with deadlines and
retries (gRPC's own retry policy, for UNAVAILABLE), behind one small interface so that a test
about orchestration can count calls or inject a fault."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Protocol

import grpc

from parley.v1 import (
    stt_pb2,
    stt_pb2_grpc,
    translate_pb2,
    translate_pb2_grpc,
    tts_pb2,
    tts_pb2_grpc,
)

_RETRY = json.dumps(
    {
        "methodConfig": [
            {
                "name": [
                    {"service": "parley.v1.TranslationService"},
                    {"service": "parley.v1.TextToSpeechService"},
                ],
                "retryPolicy": {
                    "maxAttempts": 3,
                    "initialBackoff": "0.1s",
                    "maxBackoff": "1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)
CHANNEL_OPTIONS = [
    ("grpc.service_config", _RETRY),
    ("grpc.enable_retries", 1),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
]


class Backends(Protocol):
    """What the room needs from speech-to-text, translation and text-to-speech."""

    def recognize(
        self, requests: AsyncIterator[stt_pb2.StreamingRecognizeRequest]
    ) -> AsyncIterator[stt_pb2.StreamingRecognizeResponse]:
        """One recognition stream."""

    async def translate(
        self, request: translate_pb2.TranslateRequest, deadline_s: float
    ) -> translate_pb2.TranslateResponse:
        """One batch translation."""

    def synthesize(
        self, request: tts_pb2.StreamingSynthesizeRequest, deadline_s: float
    ) -> AsyncIterator[tts_pb2.StreamingSynthesizeResponse]:
        """One synthesis stream."""

    async def close(self) -> None:
        """Closes the connections."""


class GrpcBackends:
    """Backends reached through gRPC channels (one per distinct address)."""

    def __init__(self, stt: str, translate: str, tts: str) -> None:
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._stt = stt_pb2_grpc.SpeechToTextServiceStub(self._channel(stt))
        self._translate = translate_pb2_grpc.TranslationServiceStub(self._channel(translate))
        self._tts = tts_pb2_grpc.TextToSpeechServiceStub(self._channel(tts))

    def _channel(self, address: str) -> grpc.aio.Channel:
        if address not in self._channels:
            self._channels[address] = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        return self._channels[address]

    def recognize(self, requests):
        return self._stt.StreamingRecognize(requests)

    async def translate(self, request, deadline_s):
        return await self._translate.Translate(request, timeout=deadline_s)

    def synthesize(self, request, deadline_s):
        return self._tts.StreamingSynthesize(request, timeout=deadline_s)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
