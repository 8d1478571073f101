"""The SpeechToTextService servicer: the only STT module that knows gRPC."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator

import grpc
import numpy as np
from google.protobuf.duration_pb2 import Duration

from parley import audio
from parley.errors import InvalidInput, OutOfOrder, ParleyError
from parley.launch import ServiceEntry
from parley.logs import get_logger
from parley.pacing import AudioPacer
from parley.rpc import (
    Unreadable,
    abort_with,
    audio_format_from_proto,
    duration,
    first_message,
    register_servicer,
)
from parley.server import Service
from parley.v1 import stt_pb2, stt_pb2_grpc
from services.stt import SERVICE_NAME
from services.stt.config import TURN_TRANSCRIPT, SttConfig
from services.stt.endpointer import Endpointer, EndpointingOptions, UtteranceEnded
from services.stt.engine import SAMPLE_RATE, TRANSCRIBE, TRANSLATE, RecognitionOptions
from services.stt.hallucination import HallucinationFilter
from services.stt.registry import ModelRegistry
from services.stt.stream import (
    FINALIZE,
    SENTENCE,
    UTTERANCE,
    Activity,
    Hypothesis,
    RecognitionStream,
    StreamSettings,
)
from services.stt.turn import TurnModel

log = get_logger(__name__)

MAX_PROMPT_CHARS = 1000  # Whisper reads at most 223 tokens of a prompt
MAX_CANDIDATES = 20
_COMMITS = {stt_pb2.COMMIT_MODE_UTTERANCE: UTTERANCE, stt_pb2.COMMIT_MODE_SENTENCE: SENTENCE}


def _duration(samples: float) -> Duration:
    return duration(samples, SAMPLE_RATE)


class SpeechToTextServicer(stt_pb2_grpc.SpeechToTextServiceServicer):
    """Maps the API onto the model registry and recognition streams."""

    def __init__(
        self, config: SttConfig, registry: ModelRegistry, turn: TurnModel | None = None
    ) -> None:
        self._config = config
        self._registry = registry
        self._turn = turn

    def settings(self, config: stt_pb2.RecognitionConfig) -> StreamSettings:
        """Validates a RecognitionConfig into stream settings.

        Raises:
            InvalidInput: for an unknown model or language, a bad format or bad endpointing.
        """
        model = config.model or self._registry.default
        engine = self._registry.get(model)
        task = (
            TRANSLATE
            if config.task == stt_pb2.RECOGNITION_TASK_TRANSLATE_TO_ENGLISH
            else TRANSCRIBE
        )
        if len(config.prompt) > MAX_PROMPT_CHARS:
            raise InvalidInput(
                f"prompt is {len(config.prompt):,} characters; the limit is {MAX_PROMPT_CHARS}"
            )
        if len(config.candidate_languages) > MAX_CANDIDATES:
            raise InvalidInput(
                f"{len(config.candidate_languages):,} candidate_languages; the limit is "
                f"{MAX_CANDIDATES}"
            )
        options = RecognitionOptions(
            language=config.language.strip().lower() or None,
            task=task,
            word_timestamps=config.word_timestamps,
            candidate_languages=tuple(c.strip().lower() for c in config.candidate_languages),
            prompt=config.prompt or None,
        )
        engine.check(options)
        ep = config.endpointing
        if min(ep.min_silence_ms, ep.max_utterance_ms, ep.min_speech_ms) < 0 or not (
            0 <= ep.speech_threshold < 1
        ):
            raise InvalidInput("endpointing values must be positive; speech_threshold in (0, 1)")
        for field, value, limit, setting in (
            ("max_utterance_ms", ep.max_utterance_ms, self._config.max_utterance_ms,
             "PARLEY_STT_MAX_UTTERANCE_MS"),
            ("min_silence_ms", ep.min_silence_ms, self._config.max_silence_ms,
             "PARLEY_STT_MAX_SILENCE_MS"),
            ("min_speech_ms", ep.min_speech_ms, self._config.max_utterance_ms,
             "PARLEY_STT_MAX_UTTERANCE_MS"),
        ):  # fmt: skip
            if value > limit:
                raise InvalidInput(
                    f"endpointing.{field} is {value:,}; this server allows at most {limit:,} "
                    f"({setting})"
                )
        # A stream that sets its own silence asked for silence alone to end its utterances.
        by_turn = self._turn is not None and not ep.min_silence_ms
        endpointing = EndpointingOptions(
            min_silence_ms=ep.min_silence_ms or self._config.min_silence_ms,
            max_utterance_ms=ep.max_utterance_ms or self._config.max_utterance_ms,
            threshold=ep.speech_threshold or 0.5,
            min_speech_ms=ep.min_speech_ms or 250,
            early_ms=self._config.early_ms,
            turn_check_ms=self._config.turn_check_ms if by_turn else 0,
            turn_max_silence_ms=self._config.turn_max_silence_ms,
            turn_threshold=self._config.turn_threshold,
            turn_transcript=by_turn and self._config.turn == TURN_TRANSCRIPT,
        )
        if endpointing.max_utterance_ms < 1000:
            raise InvalidInput("endpointing.max_utterance_ms must be at least 1000")
        return StreamSettings(
            model=model,
            options=options,
            endpointing=endpointing,
            audio_format=audio_format_from_proto(config.audio_format),
            interim_results=config.interim_results,
            speech_events=config.speech_events,
            partial_interval_ms=self._config.partial_interval_ms,
            # Committing sentences needs word timings of local decodes; API engines finish
            # utterances whole.
            commit=(_COMMITS.get(config.commit) or self._config.commit)
            if engine.word_timings
            else UTTERANCE,
        )

    def _result(self, h: Hypothesis, model: str) -> stt_pb2.RecognitionResult:
        t = h.transcript
        return stt_pb2.RecognitionResult(
            utterance_id=f"u{h.index}",
            is_final=h.is_final,
            stability=h.stability,
            text=t.text,
            language=t.language,
            language_probability=t.language_probability,
            start_offset=_duration(h.start),
            end_offset=_duration(h.end),
            words=[
                stt_pb2.WordInfo(
                    word=w.word,
                    start_offset=_duration(h.start + w.start * SAMPLE_RATE),
                    end_offset=_duration(h.start + w.end * SAMPLE_RATE),
                    probability=w.probability,
                )
                for w in t.words
            ],
            model=model,
            processing_time=duration(h.seconds),
            segment_index=h.segment,
            mid_utterance=h.mid_utterance,
        )

    async def StreamingRecognize(
        self,
        request_iterator: AsyncIterator[stt_pb2.StreamingRecognizeRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[stt_pb2.StreamingRecognizeResponse]:
        try:
            first = await first_message(
                request_iterator,
                self._config.stt_first_message_timeout_s,
                "PARLEY_STT_FIRST_MESSAGE_TIMEOUT_S",
            )
            if first is None:
                return
            if not first.HasField("config"):
                raise OutOfOrder("the first message must be a RecognitionConfig")
            settings = self.settings(first.config)
            stream = RecognitionStream(settings, self._registry, self._turn)
            fmt = settings.audio_format
            pacer = AudioPacer(self._config.stt_audio_burst_s, fmt.bytes_per_second)
            async for event in stream.run(_inputs(request_iterator, pacer)):
                if isinstance(event, Activity):
                    kind = (
                        stt_pb2.SPEECH_EVENT_TYPE_SPEECH_STARTED
                        if event.started
                        else stt_pb2.SPEECH_EVENT_TYPE_SPEECH_ENDED
                    )
                    yield stt_pb2.StreamingRecognizeResponse(
                        speech_event=stt_pb2.SpeechEvent(
                            type=kind,
                            utterance_id=f"u{event.index}",
                            offset=_duration(event.offset),
                        )
                    )
                else:
                    yield stt_pb2.StreamingRecognizeResponse(
                        result=self._result(event, settings.model)
                    )
        except ParleyError as exc:
            await abort_with(context, exc)

    async def Recognize(
        self, request: stt_pb2.RecognizeRequest, context: grpc.aio.ServicerContext
    ) -> stt_pb2.RecognizeResponse:
        started = time.perf_counter()
        try:
            settings = self.settings(request.config)
            samples, rate = audio.decode_clip(
                request.audio, settings.audio_format, self._config.max_audio_s
            )
            samples = await asyncio.to_thread(audio.resample, samples, rate, SAMPLE_RATE)
            endpointing = settings.endpointing
            if endpointing.turn_transcript:
                # A whole clip has no early recognitions to judge its pauses by: silence alone
                # splits it, as without an end-of-turn model.
                endpointing = dataclasses.replace(endpointing, turn_check_ms=0,
                                                  turn_transcript=False)  # fmt: skip
            utterances = await asyncio.to_thread(_split, samples, endpointing, self._turn)
            timed = await asyncio.gather(
                *(
                    self._registry.recognize(settings.model, u.audio, settings.options, batch=True)
                    for u in utterances
                )
            )
        except ParleyError as exc:
            await abort_with(context, exc)
        unlikely = HallucinationFilter(settings.model)
        results = [
            self._result(
                Hypothesis(u.index, True, 1.0, t.value, u.start, u.end, t.seconds), settings.model
            )
            for u, t in zip(utterances, timed, strict=True)
            if t.value.text and not unlikely.dropped(t.value, u.speech_probability, final=True)
        ]
        return stt_pb2.RecognizeResponse(
            results=results,
            audio_duration=_duration(samples.shape[0]),
            processing_time=duration(time.perf_counter() - started),
        )

    async def ListModels(
        self, request: stt_pb2.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> stt_pb2.ListModelsResponse:
        return stt_pb2.ListModelsResponse(
            models=[
                stt_pb2.ModelInfo(
                    name=d.name,
                    engine=d.engine,
                    languages=d.languages,
                    multilingual=d.multilingual,
                    supports_translation=d.supports_translation,
                    loaded=loaded,
                    source=d.source,
                    description=d.description,
                )
                for d, loaded in self._registry.describe()
            ],
            default_model=self._registry.default,
        )


def _split(
    samples: np.ndarray, options: EndpointingOptions, turn: TurnModel | None
) -> list[UtteranceEnded]:
    """The utterances of a whole clip."""
    endpointer = Endpointer(options, turn)
    events = [*endpointer.feed(samples), *endpointer.flush()]
    return [e for e in events if isinstance(e, UtteranceEnded)]


async def _inputs(
    requests: AsyncIterator[stt_pb2.StreamingRecognizeRequest], pacer: AudioPacer
) -> AsyncIterator[object]:
    """Audio bytes and FINALIZE markers from the requests after the config, read no faster
    than real time once the stream is ``pacer``'s burst ahead of the clock."""
    async for request in requests:
        if isinstance(request, Unreadable):
            raise request.error()
        kind = request.WhichOneof("request")
        if kind == "audio":
            if request.audio.data:
                # Waits first: no chunk is taken ahead of the allowed pace.
                await pacer.pace(
                    len(request.audio.data),
                    lambda: log.info("audio faster than real time: stream throttled"),
                )
                yield request.audio.data
        elif kind == "finalize":
            yield FINALIZE
        elif kind == "config":
            raise OutOfOrder("a RecognitionConfig may only be the first message of a stream")
        else:
            raise InvalidInput("empty StreamingRecognizeRequest: send audio or finalize")


def service(config: SttConfig) -> Service:
    """The service as a server hosts it, with its models per ``config``."""
    config.validate()
    registry = ModelRegistry(config)
    turn = TurnModel(config.turn_model) if config.turn != "off" else None
    servicer = SpeechToTextServicer(config, registry, turn)
    background: set[asyncio.Task] = set()

    async def start(_server) -> None:
        if config.preload == "start":
            await _load(registry, turn)
        elif config.preload == "background":
            task = asyncio.create_task(_preload(registry, turn))
            background.add(task)
            task.add_done_callback(background.discard)

    return Service(
        name=SERVICE_NAME,
        register=lambda server: register_servicer(
            server, servicer, stt_pb2.DESCRIPTOR.services_by_name["SpeechToTextService"]
        ),
        start=start,
        stop=registry.close,
    )


async def _load(registry: ModelRegistry, turn: TurnModel | None) -> None:
    await registry.load()
    if turn is not None:
        await asyncio.to_thread(turn.load)


async def _preload(registry: ModelRegistry, turn: TurnModel | None) -> None:
    try:
        await _load(registry, turn)
    except ParleyError as exc:
        log.error("default model could not be preloaded", error=str(exc))


ENTRY = ServiceEntry(build=service, settings=SttConfig)
