"""One streaming recognition: audio in, voice activity and hypotheses out.

A reader task decodes, resamples and endpoints the incoming audio (the VAD runs in a worker
thread) and queues recognitions; the caller iterates :meth:`RecognitionStream.run` for the
results, which come in order: whatever happens to an utterance is reported before anything of
the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np

from parley.audio import AudioFormat, PcmDecoder, StreamResampler
from parley.errors import ParleyError
from parley.logs import get_logger
from services.stt.endpointer import (
    Endpointer,
    EndpointingOptions,
    SpeechStarted,
    TurnJudge,
    UtteranceEnded,
    UtteranceMayEnd,
)
from services.stt.engine import SAMPLE_RATE, RecognitionOptions, Transcript
from services.stt.hallucination import HallucinationFilter
from services.stt.registry import ModelRegistry

log = get_logger(__name__)

FINALIZE = object()  # an input item: end the utterance in progress now


@dataclass(frozen=True)
class StreamSettings:
    """What a recognition stream was configured with."""

    model: str
    options: RecognitionOptions
    endpointing: EndpointingOptions
    audio_format: AudioFormat
    interim_results: bool = False
    speech_events: bool = False
    partial_interval_ms: int = 700


@dataclass(frozen=True)
class Hypothesis:
    """A partial or final transcript of one utterance; offsets are 16 kHz stream samples."""

    index: int
    is_final: bool
    stability: float
    transcript: Transcript
    start: int
    end: int
    seconds: float


@dataclass(frozen=True)
class _Pending:
    """A recognition queued for the caller, in order."""

    future: asyncio.Future
    index: int
    start: int
    end: int
    final: bool
    speech_probability: float = 1.0


@dataclass(frozen=True)
class Activity:
    """Speech started or ended (``ended`` is sent when the silence confirmed it)."""

    index: int
    started: bool
    offset: int


def stability(previous: list[str], current: list[str]) -> float:
    """Share of the current words that the previous hypothesis already had, in order."""
    if not current:
        return 0.0
    same = 0
    for old, new in zip(previous, current, strict=False):
        if old.strip(".,!?").lower() != new.strip(".,!?").lower():
            break
        same += 1
    return same / len(current)


class RecognitionStream:
    """Runs one StreamingRecognize call."""

    def __init__(
        self, settings: StreamSettings, registry: ModelRegistry, turn: TurnJudge | None = None
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._decoder = PcmDecoder(settings.audio_format)
        self._resampler = StreamResampler(settings.audio_format.sample_rate, SAMPLE_RATE)
        self._endpointer = Endpointer(settings.endpointing, turn)
        self._filter = HallucinationFilter(settings.model)
        self._out: asyncio.Queue = asyncio.Queue()
        self._partial_key = object()
        self._partial_at = 0
        self._partial_words: list[str] = []
        self._partial_pending: asyncio.Future | None = None
        # Recognition started when the end became likely: (index, end, future).
        self._early: tuple[int, int, asyncio.Future] | None = None

    async def run(self, inputs: AsyncIterator[object]) -> AsyncIterator[Hypothesis | Activity]:
        """Consumes ``inputs`` (audio bytes or FINALIZE) and yields what was recognised.

        Raises:
            ParleyError: from the inputs or a recogniser, ending the stream.
        """
        reader = asyncio.create_task(self._read(inputs))
        try:
            while True:
                item = await self._out.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, Activity):
                    yield item
                    continue
                result = await self._result(item)
                if result is not None:
                    yield result
            await reader
        finally:
            reader.cancel()
            self._registry.cancel_partial(self._settings.model, self._partial_key)

    async def _result(self, pending: _Pending) -> Hypothesis | None:
        future, index = pending.future, pending.index
        try:
            timed = await future
        except asyncio.CancelledError:
            if future.cancelled():  # a partial superseded by a newer one or by the final
                return None
            raise
        except ParleyError:
            raise
        except Exception:  # an engine bug ends only this utterance
            log.exception("recognition failed", utterance=index)
            return None
        transcript: Transcript = timed.value
        if not transcript.text:
            return None
        if self._filter.dropped(transcript, pending.speech_probability, pending.final):
            return None
        start, end = pending.start, pending.end
        if pending.final:
            self._partial_words = []
            return Hypothesis(index, True, 1.0, transcript, start, end, timed.seconds)
        words = transcript.text.split()
        score = stability(self._partial_words, words)
        self._partial_words = words
        return Hypothesis(index, False, score, transcript, start, end, timed.seconds)

    async def _read(self, inputs: AsyncIterator[object]) -> None:
        try:
            async for item in inputs:
                if item is FINALIZE:
                    self._handle(await asyncio.to_thread(self._endpointer.flush))
                    continue
                samples = self._resampler.process(self._decoder.feed(item))  # type: ignore[arg-type]
                if samples.size:
                    self._handle(await asyncio.to_thread(self._endpointer.feed, samples))
                    self._maybe_partial()
            tail = self._resampler.process(np.zeros(0, np.float32), last=True)
            events = await asyncio.to_thread(self._endpointer.feed, tail) if tail.size else []
            self._handle([*events, *await asyncio.to_thread(self._endpointer.flush)])
            self._out.put_nowait(None)
        except ParleyError as exc:
            self._out.put_nowait(exc)

    def _handle(self, events: list) -> None:
        for event in events:
            if isinstance(event, SpeechStarted):
                self._partial_at = event.start
                if self._settings.speech_events:
                    self._out.put_nowait(Activity(event.index, True, event.start))
            elif isinstance(event, UtteranceMayEnd):
                # Start recognising now; the result is used only if the silence lasts.
                self._registry.cancel_partial(self._settings.model, self._partial_key)
                self._drop_early()
                future = self._registry.submit(
                    self._settings.model, event.audio, self._settings.options
                )
                self._early = (event.index, event.end, future)
            elif isinstance(event, UtteranceEnded):
                self._registry.cancel_partial(self._settings.model, self._partial_key)
                if self._settings.speech_events:
                    self._out.put_nowait(Activity(event.index, False, event.speech_end))
                if self._early is not None and self._early[:2] == (event.index, event.end):
                    future = self._early[2]
                    self._early = None
                else:
                    self._drop_early()
                    future = self._registry.submit(
                        self._settings.model, event.audio, self._settings.options
                    )
                self._out.put_nowait(
                    _Pending(
                        future, event.index, event.start, event.end, True, event.speech_probability
                    )
                )

    def _drop_early(self) -> None:
        """Forgets an early recognition whose utterance went on after all."""
        if self._early is not None:
            self._early[2].cancel()  # skipped if it has not started; wasted if it has
            self._early = None

    def _maybe_partial(self) -> None:
        if not (self._settings.interim_results and self._endpointer.in_speech):
            return
        if self._endpointer.silence_ms:
            # The utterance may be ending: a partial started now would hold the worker when
            # the final needs it.
            return
        position = self._endpointer.position
        interval = self._settings.partial_interval_ms * SAMPLE_RATE // 1000
        pending = self._partial_pending
        if position - self._partial_at < interval or (pending is not None and not pending.done()):
            return
        self._partial_at = position
        options = RecognitionOptions(
            language=self._settings.options.language,
            task=self._settings.options.task,
            candidate_languages=self._settings.options.candidate_languages,
            prompt=self._settings.options.prompt,
            partial=True,
        )
        future = self._registry.submit(
            self._settings.model,
            self._endpointer.current_audio(),
            options,
            partial_key=self._partial_key,
        )
        self._partial_pending = future
        index = self._endpointer.utterance_index
        self._out.put_nowait(
            _Pending(future, index, self._endpointer.speech_start, position, False)
        )
