"""One streaming recognition: audio in, voice activity and hypotheses out.

A reader task decodes, resamples and endpoints the incoming audio (the VAD runs in a worker
thread) and queues recognitions; the caller iterates :meth:`RecognitionStream.run` for the
results, which come in order: whatever happens to an utterance is reported before anything of
the next one.

With ``commit="sentence"`` the unfinished utterance is decoded again every
``partial_interval_ms`` of speech, and each sentence two consecutive decodes agree on becomes a
final result at once (``services.stt.commit``): its audio leaves the utterance, and the next
decodes carry its text as context (until a decode with it finds too few words for its audio,
as greedy decoding sometimes does: then they go without). The final at the end of the
utterance covers the rest.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np

from parley.audio import AudioFormat, StreamResampler, decoder_for
from parley.errors import ParleyError
from parley.logs import get_logger
from services.stt.commit import SentenceCommitter, ends_sentence, without_repeated_head
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
WAKE = object()  # between input items: decoded audio or a sentence's end is ready on its own
SENTENCE, UTTERANCE = "sentence", "utterance"
CONTEXT_CHARS = 200  # of the committed text carried into the next decodes
# A decode of the unfinished audio that finds fewer words than this per second of it (less its
# pauses) stopped short: the next decodes go without the committed text as context.
MIN_WORDS_PER_S = 1.0
UNSPACED = {"zh", "ja", "th", "lo", "my", "yue"}  # languages written without spaces


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
    commit: str = UTTERANCE


@dataclass(frozen=True)
class Hypothesis:
    """A partial or final transcript of one utterance or segment; offsets are 16 kHz stream
    samples. ``segment`` counts the finals of the utterance; ``mid_utterance`` marks a final
    committed while it goes on."""

    index: int
    is_final: bool
    stability: float
    transcript: Transcript
    start: int
    end: int
    seconds: float
    segment: int = 0
    mid_utterance: bool = False


@dataclass(frozen=True)
class _Pending:
    """A recognition queued for the caller, in order.

    ``generation`` and ``origin`` (the stream sample where its audio starts) let a partial's
    words be compared with the previous decode of the same audio; ``committed`` is the text
    already final in its utterance, which a final must not repeat.
    """

    future: asyncio.Future
    index: int
    start: int
    end: int
    final: bool
    speech_probability: float = 1.0
    segment: int = 0
    generation: int = 0
    origin: int = 0
    committed: str = ""
    pauses: tuple[tuple[float, float], ...] = ()  # seconds from origin: silences heard


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


def joined(words, language: str) -> str:
    return ("" if language in UNSPACED else " ").join(w.word for w in words)


class RecognitionStream:
    """Runs one StreamingRecognize call."""

    def __init__(
        self, settings: StreamSettings, registry: ModelRegistry, turn: TurnJudge | None = None
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._wake = asyncio.Event()  # set from the decoding thread or an early recognition
        self._loop = asyncio.get_running_loop()
        self._decoder = decoder_for(settings.audio_format, SAMPLE_RATE, self._on_decoded)
        self._resampler = StreamResampler(self._decoder.output_rate, SAMPLE_RATE)
        self._endpointer = Endpointer(settings.endpointing, turn)
        self._filter = HallucinationFilter(settings.model)
        self._out: asyncio.Queue = asyncio.Queue()
        self._partial_key = object()
        self._partial_at = 0
        self._partial_words: list[str] = []
        self._partial_pending: asyncio.Future | None = None
        # Recognition started when the end became likely: (index, end, future).
        self._early: tuple[int, int, asyncio.Future] | None = None
        # (index, end) of an early recognition that ended a sentence: the utterance may end
        # there without waiting for the longest silence (turn_transcript).
        self._sentence_end: tuple[int, int] | None = None
        # Sentence commitment (see the module's doc).
        self._sentence = settings.commit == SENTENCE
        self._committer = SentenceCommitter()
        self._segment = 0  # the next final's segment of the utterance in progress
        self._context = ""  # what is final of the utterance in progress
        self._unprompted = False  # the context made a decode stop short: leave it out
        self._generation = 0  # bumped at each commit and each utterance's end
        self._committed_until = 0  # stream sample: the audio before it is final
        self._pending_commit: int | None = None  # for the endpointer, between two feeds

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
                for result in await self._results(item):
                    yield result
            await reader
        finally:
            reader.cancel()
            self._registry.cancel_partial(self._settings.model, self._partial_key)

    async def _results(self, pending: _Pending) -> list[Hypothesis]:
        future = pending.future
        try:
            timed = await future
        except asyncio.CancelledError:
            if future.cancelled():  # a partial superseded by a newer one or by the final
                return []
            raise
        except ParleyError:
            raise
        except Exception:  # an engine bug ends only this utterance
            log.exception("recognition failed", utterance=pending.index)
            return []
        transcript: Transcript = timed.value
        if pending.final:
            return self._final(pending, transcript, timed.seconds)
        found = []
        if self._sentence and pending.generation == self._generation and not self._ending():
            audio_s = (pending.end - pending.origin) / SAMPLE_RATE
            commit = self._committer.offer(
                transcript.words, audio_s, pending.pauses, transcript.language, bool(self._context)
            )
            if commit is None and stopped_short(transcript, audio_s, pending.pauses):
                # Seen with greedy decoding: the committed text as prompt, and Whisper said one
                # word ("so") of the next 3-13 s at every decode until the utterance ended.
                log.debug("decode stopped short; context left out", seconds=round(audio_s, 1))
                self._unprompted = True
            if commit is not None:
                found += self._commit(pending, transcript, commit, timed.seconds)
                rest = transcript.words[len(commit.words) :]
                transcript = dataclasses.replace(
                    transcript, text=joined(rest, transcript.language), words=rest
                )
        if self._settings.interim_results and transcript.text:
            if not self._filter.dropped(transcript, pending.speech_probability, final=False):
                words = transcript.text.split()
                score = stability(self._partial_words, words)
                self._partial_words = words
                found.append(Hypothesis(
                    pending.index, False, score, transcript, pending.origin, pending.end,
                    timed.seconds, self._segment,
                ))  # fmt: skip
        return found

    def _ending(self) -> bool:
        """True while the speaker is silent and the decode of the utterance's end is under way
        (a commit now would make it start again, on less audio, later)."""
        early_ms = self._endpointer.options.early_ms
        return self._early is not None and self._endpointer.silence_ms >= early_ms > 0

    def _final(self, pending: _Pending, transcript: Transcript, seconds: float):
        text = without_repeated_head(transcript.text, pending.committed)
        if text != transcript.text:
            transcript = dataclasses.replace(transcript, text=text, words=())
        if not transcript.text:
            return []
        if self._filter.dropped(transcript, pending.speech_probability, True):
            return []
        self._partial_words = []
        return [Hypothesis(pending.index, True, 1.0, transcript, pending.start, pending.end,
                           seconds, pending.segment)]  # fmt: skip

    def _commit(self, pending: _Pending, transcript: Transcript, commit, seconds: float):
        """Makes a final of the words agreed on; the audio they took leaves the utterance."""
        cut = pending.origin + int(commit.cut_s * SAMPLE_RATE)
        # A word cut in two at the last boundary is heard on both sides of it: said once.
        words = commit.words
        if transcript.language not in UNSPACED:
            text = joined(words, transcript.language)
            words = words[
                len(text.split()) - len(without_repeated_head(text, self._context).split()) :
            ]
        final = dataclasses.replace(
            transcript, text=joined(words, transcript.language), words=words
        )
        found = []
        if words and not self._filter.dropped(final, pending.speech_probability, True, agreed=True):
            found.append(Hypothesis(pending.index, True, 1.0, final, pending.origin, cut, seconds,
                                    self._segment, mid_utterance=True))  # fmt: skip
            self._segment += 1
        self._context = f"{self._context} {final.text}".strip()
        self._unprompted = False
        self._generation += 1
        self._committed_until = self._pending_commit = cut
        self._partial_words = []
        self._drop_early()  # its audio held what is now final
        return found

    def _on_decoded(self) -> None:
        self._loop.call_soon_threadsafe(self._wake.set)

    async def _with_wakes(self, inputs: AsyncIterator[object]) -> AsyncIterator[object]:
        """The inputs, with WAKE whenever a container's decoder finished audio on its own (the
        last words of an Ogg page are heard without waiting for the next chunk) or an early
        recognition found the end of a sentence (acted on without waiting for more audio)."""
        iterator = inputs.__aiter__()
        following: asyncio.Future | None = None
        try:
            while True:
                following = following or asyncio.ensure_future(iterator.__anext__())
                waiter = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait({following, waiter}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if self._wake.is_set():
                    self._wake.clear()
                    yield WAKE
                if following.done():
                    try:
                        item = following.result()
                    except StopAsyncIteration:
                        return
                    following = None
                    yield item
        finally:
            if following is not None:
                following.cancel()

    async def _read(self, inputs: AsyncIterator[object]) -> None:
        compressed = self._settings.audio_format.compressed
        if compressed or self._settings.endpointing.turn_transcript:
            inputs = self._with_wakes(inputs)
        try:
            async for item in inputs:
                self._apply_commit()
                if item is FINALIZE:
                    self._handle(await asyncio.to_thread(self._endpointer.flush))
                    continue
                if item is WAKE:
                    taken = self._decoder.take() if compressed else np.zeros(0, np.float32)
                    samples = self._resampler.process(taken)
                else:
                    samples = self._resampler.process(self._decoder.feed(item))  # type: ignore[arg-type]
                if samples.size:
                    self._handle(await asyncio.to_thread(self._endpointer.feed, samples))
                    self._maybe_partial()
                if self._sentence_end is not None:
                    self._handle(self._endpointer.end_now(*self._sentence_end))
            self._apply_commit()
            rest = self._resampler.process(await asyncio.to_thread(self._decoder.flush))
            if rest.size:
                self._handle(await asyncio.to_thread(self._endpointer.feed, rest))
            tail = self._resampler.process(np.zeros(0, np.float32), last=True)
            events = await asyncio.to_thread(self._endpointer.feed, tail) if tail.size else []
            self._handle([*events, *await asyncio.to_thread(self._endpointer.flush)])
            self._out.put_nowait(None)
        except ParleyError as exc:
            self._out.put_nowait(exc)
        finally:
            self._decoder.close()

    def _apply_commit(self) -> None:
        """Tells the endpointer of a commit (only between two feeds: it runs in a thread)."""
        if self._pending_commit is not None:
            self._endpointer.commit(self._pending_commit)
            self._pending_commit = None

    def _options(self, partial: bool = False) -> RecognitionOptions:
        """The stream's options, with what is final of the utterance as context."""
        options = self._settings.options
        context = "" if self._unprompted else self._context[-CONTEXT_CHARS:]
        prompt = " ".join(filter(None, (options.prompt, context)))
        if partial:
            # Partials have no word timings to report, but commitment needs them.
            return dataclasses.replace(options, partial=True, word_timestamps=self._sentence,
                                       prompt=prompt or None)  # fmt: skip
        return dataclasses.replace(options, prompt=prompt or None)

    def _uncommitted(self, audio: np.ndarray, audio_start: int) -> tuple[np.ndarray, int]:
        """``audio`` (starting at stream sample ``audio_start``) less what is already final."""
        skip = max(0, self._committed_until - audio_start)
        return audio[skip:], audio_start + skip

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
                audio, _ = self._uncommitted(event.audio, event.audio_start)
                future = self._registry.submit(self._settings.model, audio, self._options())
                self._early = (event.index, event.end, future)
                if self._settings.endpointing.turn_transcript:
                    future.add_done_callback(self._on_early_result)
            elif isinstance(event, UtteranceEnded):
                self._end(event)

    def _end(self, event: UtteranceEnded) -> None:
        self._registry.cancel_partial(self._settings.model, self._partial_key)
        if self._settings.speech_events:
            self._out.put_nowait(Activity(event.index, False, event.speech_end))
        if self._early is not None and self._early[:2] == (event.index, event.end):
            future = self._early[2]
            self._early = self._sentence_end = None
        else:
            self._drop_early()
            audio, _ = self._uncommitted(event.audio, event.audio_start)
            future = self._registry.submit(self._settings.model, audio, self._options())
        start = max(event.start, self._committed_until)
        self._out.put_nowait(
            _Pending(future, event.index, start, event.end, True, event.speech_probability,
                     self._segment, committed=self._context)
        )  # fmt: skip
        # The next utterance starts afresh.
        self._segment, self._context = 0, ""
        self._unprompted = False
        self._generation += 1
        self._committer.reset()

    def _drop_early(self) -> None:
        """Forgets an early recognition whose utterance went on after all."""
        self._sentence_end = None
        if self._early is not None:
            self._early[2].cancel()  # skipped if it has not started; wasted if it has
            self._early = None

    def _on_early_result(self, future: asyncio.Future) -> None:
        """Notes an early recognition whose text ends a sentence (the endpointer ends the
        utterance there if the end-of-turn model found the pause complete)."""
        if self._early is None or self._early[2] is not future or future.cancelled():
            return
        if future.exception() is None and ends_sentence(future.result().value.text):
            self._sentence_end = self._early[:2]
            self._wake.set()

    def _maybe_partial(self) -> None:
        wanted = self._settings.interim_results or self._sentence
        if not (wanted and self._endpointer.in_speech):
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
        audio, origin = self._uncommitted(
            self._endpointer.current_audio(), self._endpointer.buffer_start
        )
        future = self._registry.submit(
            self._settings.model, audio, self._options(partial=True), partial_key=self._partial_key
        )
        self._partial_pending = future
        index = self._endpointer.utterance_index
        pauses = tuple(((start - origin) / SAMPLE_RATE, (end - origin) / SAMPLE_RATE)
                       for start, end in self._endpointer.pauses() if start >= origin)  # fmt: skip
        self._out.put_nowait(
            _Pending(future, index, origin, position, False, segment=self._segment,
                     generation=self._generation, origin=origin, pauses=pauses)
        )  # fmt: skip


def stopped_short(
    transcript: Transcript, audio_s: float, pauses: tuple[tuple[float, float], ...]
) -> bool:
    """True when a decode of ``audio_s`` seconds of speech (``pauses`` in it) found too few
    words for it: under :data:`MIN_WORDS_PER_S` for 2 s or more of speech."""
    speech_s = audio_s - sum(end - start for start, end in pauses)
    return speech_s >= 2.0 and len(transcript.words) < MIN_WORDS_PER_S * speech_s
