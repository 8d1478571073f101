"""The TranslationService servicer: the only translation module that knows gRPC."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import grpc

from parley.errors import EngineUnavailable, InvalidInput, OutOfOrder, ParleyError
from parley.launch import ServiceEntry
from parley.logs import get_logger
from parley.rpc import abort_with, readable, register_servicer
from parley.server import Service
from parley.v1 import translate_pb2 as pb
from services.translate import SERVICE_NAME, route_scores
from services.translate.cache import TranslationCache
from services.translate.config import TranslateConfig, languages, preload_pairs
from services.translate.engines.base import Engine
from services.translate.languages import normalize
from services.translate.registry import build_engines
from services.translate.router import Route, Router
from services.translate.translator import Translation, Translator

log = get_logger(__name__)


def route_proto(route: Route) -> pb.Route:
    """The API message for a route."""
    return pb.Route(
        steps=[
            pb.RouteStep(
                source_language=s.source, target_language=s.target, engine=s.engine, model=s.model
            )
            for s in route.steps
        ],
        summary=route.summary,
    )


def translation_proto(result: Translation, index: int | None = None) -> pb.Translation:
    """The API message for a translation; ``index`` overrides its text index."""
    return pb.Translation(
        text_index=result.text_index if index is None else index,
        target_language=result.target,
        text=result.text,
        route=route_proto(result.route),
        cached=result.cached,
    )


class TranslationServicer:
    """Maps the three RPCs onto a :class:`Translator` built when the service starts."""

    def __init__(self, config: TranslateConfig) -> None:
        self._config = config
        self._engines: list[Engine] = []
        self._executor: ThreadPoolExecutor | None = None
        self.translator: Translator | None = None

    async def start(self, server: object = None) -> None:
        """Builds the engines (discovering installed pairs), the router and the translator,
        then makes the preloaded pairs ready.

        Args:
            server: the hosting server, when the server passes it (unused).
        """
        config = self._config
        self._engines = await asyncio.to_thread(build_engines, config)
        router = Router(
            self._engines,
            languages(config.translate_pivots, "PARLEY_TRANSLATE_PIVOTS"),
            config.translate_max_steps,
            route_scores.load() if config.translate_route_by == "quality" else None,
        )
        self._executor = ThreadPoolExecutor(
            config.translate_workers, thread_name_prefix="translate"
        )
        translator = Translator(
            router,
            TranslationCache(config.translate_cache_size),
            self._executor,
            config.translate_max_text_chars,
            config.translate_max_request_chars,
        )
        if config.translate_preload:
            await translator.preload(preload_pairs(config.translate_preload))
        self.translator = translator
        log.info(
            "translation routes ready", pairs=len(router.pairs()), engines=list(router.engines)
        )

    async def stop(self) -> None:
        """Stops the engines' processes and the worker threads."""
        engines, self._engines = self._engines, []
        for engine in engines:
            await asyncio.to_thread(engine.close)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def _ready(self) -> Translator:
        if self.translator is None:
            raise EngineUnavailable("the translation service is still starting")
        return self.translator

    async def Translate(self, request, context: grpc.aio.ServicerContext) -> pb.TranslateResponse:
        try:
            request = readable(request)
            results = await self._ready().translate(
                list(request.texts),
                request.source_language,
                list(request.target_languages),
                request.engine,
                request.direct_only,
                list(request.do_not_translate),
            )
        except ParleyError as exc:
            await abort_with(context, exc)
        return pb.TranslateResponse(translations=[translation_proto(r) for r in results])

    async def StreamingTranslate(
        self, request_iterator, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamingTranslateResponse]:
        settings: pb.StreamingTranslateConfig | None = None
        try:
            async for message in request_iterator:
                request = readable(message)
                kind = request.WhichOneof("request")
                if kind == "config":
                    if settings is not None:
                        raise OutOfOrder("the config must be the first message, and only the first")
                    settings = request.config
                    self._ready().routes(
                        settings.source_language,
                        list(settings.target_languages),
                        settings.engine,
                        settings.direct_only,
                    )
                elif kind == "segment":
                    if settings is None:
                        raise OutOfOrder("the first message must be the config")
                    yield await self._segment(settings, request.segment)
                else:
                    raise InvalidInput("empty message: set config or segment")
        except ParleyError as exc:
            await abort_with(context, exc)

    async def _segment(
        self, settings: pb.StreamingTranslateConfig, segment: pb.TextSegment
    ) -> pb.StreamingTranslateResponse:
        results = await self._ready().translate(
            [segment.text],
            settings.source_language,
            list(settings.target_languages),
            settings.engine,
            settings.direct_only,
            list(settings.do_not_translate),
        )
        return pb.StreamingTranslateResponse(
            segment_id=segment.segment_id,
            translations=[translation_proto(r, index=0) for r in results],
        )

    async def ListLanguagePairs(
        self, request, context: grpc.aio.ServicerContext
    ) -> pb.ListLanguagePairsResponse:
        try:
            request = readable(request)
            router = self._ready().router
        except ParleyError as exc:
            await abort_with(context, exc)
        source = normalize(request.source_language)
        target = normalize(request.target_language)
        return pb.ListLanguagePairsResponse(
            pairs=[
                pb.LanguagePair(
                    source_language=pair[0],
                    target_language=pair[1],
                    route=route_proto(route),
                    direct=route.direct,
                    engines=router.direct_engines(pair),
                    quality_chrf=router.score(route),
                )
                for pair, route in router.pairs()
                if (not source or pair[0] == source) and (not target or pair[1] == target)
            ]
        )


def service(config: TranslateConfig | None = None) -> Service:
    """The service as a server hosts it; engines are built when it starts."""
    servicer = TranslationServicer(config or TranslateConfig())
    return Service(
        name=SERVICE_NAME,
        register=lambda server: register_servicer(
            server, servicer, pb.DESCRIPTOR.services_by_name["TranslationService"]
        ),
        start=servicer.start,
        stop=servicer.stop,
    )


ENTRY = ServiceEntry(build=service, settings=TranslateConfig)
