"""Translation client."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from parley.v1 import translate_pb2, translate_pb2_grpc


class Translator:
    """Client of ``parley.v1.TranslationService``."""

    def __init__(self, channel: grpc.aio.Channel, timeout_s: float) -> None:
        self._stub = translate_pb2_grpc.TranslationServiceStub(channel)
        self._timeout = timeout_s

    async def translate(
        self, texts: Sequence[str], source: str, targets: Sequence[str], engine: str = ""
    ) -> list[translate_pb2.Translation]:
        """Every text in every target language, each with the route that served it."""
        response = await self._stub.Translate(
            translate_pb2.TranslateRequest(
                texts=list(texts),
                source_language=source,
                target_languages=list(targets),
                engine=engine,
            ),
            timeout=self._timeout,
        )
        return list(response.translations)

    async def pairs(self, source: str = "", target: str = "") -> list[translate_pb2.LanguagePair]:
        """The language pairs that can be translated, with their routes."""
        response = await self._stub.ListLanguagePairs(
            translate_pb2.ListLanguagePairsRequest(source_language=source, target_language=target),
            timeout=self._timeout,
        )
        return list(response.pairs)
