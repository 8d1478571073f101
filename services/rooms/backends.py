"""The room service's view of the three engine services: gRPC clients with deadlines and
retries (gRPC's own retry policy, for UNAVAILABLE), behind one small interface so that a test
about orchestration can count calls or inject a fault."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import json
from collections.abc import AsyncIterator
from typing import Protocol

import grpc

from parley.errors import InvalidInput
from parley.v1 import (
    stt_pb2,
    stt_pb2_grpc,
    translate_pb2,
    translate_pb2_grpc,
    tts_pb2,
    tts_pb2_grpc,
)
from parley_client.connection import ConnectionOptions, make_channel

_METHOD_CONFIG = [
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
_RETRY = json.dumps({"methodConfig": _METHOD_CONFIG})

_VARIABLES = {
    "parley.v1.SpeechToTextService": "PARLEY_STT_ADDRESS",
    "parley.v1.TranslationService": "PARLEY_TRANSLATE_ADDRESS",
    "parley.v1.TextToSpeechService": "PARLEY_TTS_ADDRESS",
}


def balanced_service_config(service: str) -> str:
    """The service config of a channel over several servers of ``service``: round robin over
    those whose ``grpc.health.v1`` status for ``service`` is SERVING (gRPC's client-side health
    checking: one Health/Watch stream per server), with the same retry policy."""
    return json.dumps(
        {
            "loadBalancingConfig": [{"round_robin": {}}],
            "healthCheckConfig": {"serviceName": service},
            "methodConfig": _METHOD_CONFIG,
        }
    )


def channel_target(address: str, variable: str = "the address") -> tuple[str, bool]:
    """The gRPC target of a configured address, and whether calls are balanced over servers.

    One ``host:port`` is used as it is (one server). A comma-separated list of IP ``host:port``
    becomes an ``ipv4:``/``ipv6:`` target over all of them; a ``dns:///name:port`` target
    (a Kubernetes headless service, for example) uses every address the name resolves to; an
    ``ipv4:``/``ipv6:`` target is taken as written. Those three are balanced.

    Raises:
        InvalidInput: for a list with a host name or mixing IPv4 and IPv6.
    """
    address = address.strip()
    if address.startswith(("dns:", "ipv4:", "ipv6:")):
        return address, True
    parts = [part.strip() for part in address.split(",") if part.strip()]
    if len(parts) <= 1:
        return (parts[0] if parts else address), False
    versions = set()
    for part in parts:
        host = part.rsplit(":", 1)[0].strip("[]") if ":" in part else ""
        try:
            versions.add(ipaddress.ip_address(host).version)
        except ValueError:
            raise InvalidInput(
                f"{variable}: {part!r} in a list of addresses must be an IP address with a port "
                "(such as 10.0.0.5:50052); for a name that resolves to several servers use "
                "dns:///NAME:PORT"
            ) from None
    if len(versions) > 1:
        raise InvalidInput(f"{variable}: a list of addresses must be all IPv4 or all IPv6")
    return f"ipv{versions.pop()}:{','.join(parts)}", True


CHANNEL_OPTIONS = (
    ("grpc.service_config", _RETRY),
    ("grpc.enable_retries", 1),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    # A service that restarts is used again within 2 s (gRPC's default backoff grows to 120 s).
    ("grpc.initial_reconnect_backoff_ms", 500),
    ("grpc.max_reconnect_backoff_ms", 2000),
)


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

    async def translates(self, source: str, target: str, deadline_s: float) -> bool:
        """Whether some route translates ``source`` into ``target``."""

    async def speaks(self, language: str, deadline_s: float) -> bool:
        """Whether some voice speaks ``language``."""

    def synthesize(
        self, request: tts_pb2.StreamingSynthesizeRequest, deadline_s: float
    ) -> AsyncIterator[tts_pb2.StreamingSynthesizeResponse]:
        """One synthesis stream."""

    async def catalogue(
        self, deadline_s: float
    ) -> tuple[stt_pb2.ListModelsResponse, list[translate_pb2.LanguagePair], list[tts_pb2.Voice]]:
        """The recognition models, the translation pairs and the voices on offer."""

    async def close(self) -> None:
        """Closes the connections."""


class GrpcBackends:
    """Backends reached through gRPC channels (one per distinct address), with the security
    of ``options`` (TLS, client certificate, API key)."""

    def __init__(
        self, stt: str, translate: str, tts: str, options: ConnectionOptions | None = None
    ) -> None:
        self._options = dataclasses.replace(
            options or ConnectionOptions(), channel_options=CHANNEL_OPTIONS
        )
        self._channels: dict[tuple[str, str], grpc.aio.Channel] = {}
        self._stt = stt_pb2_grpc.SpeechToTextServiceStub(
            self._channel(stt, "parley.v1.SpeechToTextService")
        )
        self._translate = translate_pb2_grpc.TranslationServiceStub(
            self._channel(translate, "parley.v1.TranslationService")
        )
        self._tts = tts_pb2_grpc.TextToSpeechServiceStub(
            self._channel(tts, "parley.v1.TextToSpeechService")
        )

    def _channel(self, address: str, service: str) -> grpc.aio.Channel:
        """One channel per address; one per (addresses, service) when balanced, since health
        is checked per service."""
        target, balanced = channel_target(address, _VARIABLES.get(service, "the address"))
        key = (target, service if balanced else "")
        if key not in self._channels:
            options = self._options
            if balanced:
                options = dataclasses.replace(
                    options,
                    channel_options=(
                        *(o for o in CHANNEL_OPTIONS if o[0] != "grpc.service_config"),
                        ("grpc.service_config", balanced_service_config(service)),
                    ),
                )
            self._channels[key] = make_channel(target, options)
        return self._channels[key]

    def recognize(self, requests):
        return self._stt.StreamingRecognize(requests)

    async def check_recognition(self, config: stt_pb2.RecognitionConfig, deadline_s: float):
        """Asks the STT service whether it accepts ``config`` (a Recognize call with no audio):
        a stream refused at once may report INTERNAL instead of its status, a gRPC Python bug
        (grpc/grpc#36066) when the client is still writing audio.

        Raises:
            grpc.aio.AioRpcError: with the reason the config is refused.
        """
        await self._stt.Recognize(stt_pb2.RecognizeRequest(config=config), timeout=deadline_s)

    async def translate(self, request, deadline_s):
        return await self._translate.Translate(request, timeout=deadline_s)

    async def translates(self, source: str, target: str, deadline_s: float) -> bool:
        found = await self._translate.ListLanguagePairs(
            translate_pb2.ListLanguagePairsRequest(source_language=source, target_language=target),
            timeout=deadline_s,
        )
        return bool(found.pairs)

    async def speaks(self, language: str, deadline_s: float) -> bool:
        found = await self._tts.ListVoices(
            tts_pb2.ListVoicesRequest(language=language), timeout=deadline_s
        )
        return bool(found.voices)

    def synthesize(self, request, deadline_s):
        return self._tts.StreamingSynthesize(request, timeout=deadline_s)

    async def catalogue(self, deadline_s: float):
        models, pairs, voices = await asyncio.gather(
            self._stt.ListModels(stt_pb2.ListModelsRequest(), timeout=deadline_s),
            self._translate.ListLanguagePairs(
                translate_pb2.ListLanguagePairsRequest(), timeout=deadline_s
            ),
            self._tts.ListVoices(tts_pb2.ListVoicesRequest(), timeout=deadline_s),
        )
        return models, list(pairs.pairs), list(voices.voices)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
