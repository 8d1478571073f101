"""Splits a 16 kHz stream into utterances from per-frame speech probabilities.

Pure logic, no I/O: :meth:`Endpointer.feed` takes samples and returns what happened. Only the
audio of the utterance in progress and a short pre-roll are held, so a stream of any length
uses bounded memory: a finished utterance's audio leaves with its event.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from services.stt.engine import SAMPLE_RATE
from services.stt.vad import FRAME, StreamingVad


@dataclass(frozen=True)
class EndpointingOptions:
    """Utterance splitting.

    Attributes:
        min_silence_ms: silence that ends an utterance.
        max_utterance_ms: speech longer than this is cut at its quietest recent frame.
        threshold: speech probability above which a frame is speech.
        min_speech_ms: shorter bursts are ignored as noise.
        pad_ms: audio kept before the first and after the last speech frame.
        early_ms: silence after which the end is announced as likely (UtteranceMayEnd), so that
            recognition can start before the end is confirmed; 0 disables it.
        turn_check_ms: with an end-of-turn model, the silence after which it judges whether
            the turn is complete; 0 (or no model) ends utterances on silence alone.
        turn_max_silence_ms: with the model, the silence that ends a turn it judged unfinished
            (``min_silence_ms`` is then not used).
        turn_threshold: the model's probability from which the turn is complete.
        turn_transcript: with the model, a pause it judged complete ends the utterance only
            when the recognition started at ``early_ms`` also ends a sentence: the stream
            then calls :meth:`Endpointer.end_now`; until it does, the pause waits as an
            unfinished one.
    """

    min_silence_ms: int = 500
    max_utterance_ms: int = 15_000
    threshold: float = 0.5
    min_speech_ms: int = 250
    pad_ms: int = 200
    early_ms: int = 200
    turn_check_ms: int = 0
    turn_max_silence_ms: int = 1000
    turn_threshold: float = 0.5
    turn_transcript: bool = False


class TurnJudge(Protocol):
    """An end-of-turn model (services.stt.turn.TurnModel)."""

    def probability(self, audio: np.ndarray) -> float:
        """How likely the turn ending with ``audio`` is complete."""


@dataclass(frozen=True)
class SpeechStarted:
    """Speech of utterance ``index`` began at sample ``start``."""

    index: int
    start: int


@dataclass(frozen=True)
class UtteranceEnded:
    """Utterance ``index`` is complete.

    Attributes:
        index: utterance number in the stream, from 0.
        audio: its samples, from ``start`` (pre-roll included) to ``end`` (padding included).
        start: first sample of the speech, in stream samples.
        end: last sample of the speech, in stream samples.
        speech_end: where speech stopped (before the confirming silence).
        speech_probability: the voice activity model's mean speech probability over it.
        audio_start: the stream sample of ``audio``'s first sample.
    """

    index: int
    audio: np.ndarray
    start: int
    end: int
    speech_end: int
    speech_probability: float = 1.0
    audio_start: int = 0


@dataclass(frozen=True)
class UtteranceMayEnd:
    """The utterance has been silent for ``early_ms``: if the silence lasts, it will end exactly
    as described here (same fields as the UtteranceEnded that would follow)."""

    index: int
    audio: np.ndarray
    start: int
    end: int
    speech_end: int
    speech_probability: float = 1.0
    audio_start: int = 0


Event = SpeechStarted | UtteranceMayEnd | UtteranceEnded


def _ms(ms: int) -> int:
    return ms * SAMPLE_RATE // 1000


class Endpointer:
    """Voice activity endpointing for one stream.

    Args:
        options: how to split.
        turn: an end-of-turn model, used when ``options.turn_check_ms`` is set.
    """

    def __init__(self, options: EndpointingOptions, turn: TurnJudge | None = None) -> None:
        self.options = options
        self._turn = turn if options.turn_check_ms > 0 else None
        # Silence that ends an utterance; with a model, until it has judged the pause.
        self._limit = _ms(options.turn_max_silence_ms if self._turn else options.min_silence_ms)
        self._vad = StreamingVad()
        self._neg_threshold = max(options.threshold - 0.15, 0.01)
        self._pad = _ms(options.pad_ms)
        self._position = 0  # stream samples whose probability is known
        self._buffer: list[np.ndarray] = []  # frames of the utterance (or pre-roll when idle)
        self._buffer_start = 0  # stream sample of the buffer's first sample
        self._probs: list[float] = []  # per-frame probabilities of the utterance
        self._in_speech = False
        self._started = False  # SpeechStarted emitted for the current utterance
        self._speech_frames = 0
        self._speech_start = 0
        self._last_speech_end = 0
        self._silence = 0
        self._index = 0
        self._unframed = np.zeros(0, dtype=np.float32)
        self._judged_complete = False  # the model found the pause going on a complete turn

    @property
    def position(self) -> int:
        """Samples of the stream processed so far."""
        return self._position

    @property
    def in_speech(self) -> bool:
        """True while an utterance (confirmed as speech) is in progress."""
        return self._in_speech and self._started

    @property
    def silence_ms(self) -> int:
        """Silence heard since the last speech frame of the utterance in progress."""
        return self._silence * 1000 // SAMPLE_RATE

    @property
    def utterance_index(self) -> int:
        """Index of the utterance in progress (or of the next one)."""
        return self._index

    @property
    def speech_start(self) -> int:
        """First speech sample of the utterance in progress."""
        return self._speech_start

    @property
    def buffer_start(self) -> int:
        """The stream sample where :meth:`current_audio` starts."""
        return self._buffer_start

    def current_audio(self) -> np.ndarray:
        """Audio of the utterance in progress (for partial hypotheses)."""
        return np.concatenate(self._buffer) if self._buffer else np.zeros(0, np.float32)

    def pauses(self, min_ms: int = 60) -> list[tuple[int, int]]:
        """(start, end) stream samples of each silence of ``min_ms`` or more inside the
        utterance in progress, the one going on included: where the speaker stopped for breath
        between words, which Whisper's word timings place only roughly."""
        needed = max(1, -(-_ms(min_ms) // FRAME))  # whole frames, rounded up
        found, at = [], self._speech_start
        for silent, run in itertools.groupby(p < self._neg_threshold for p in self._probs):
            frames = sum(1 for _ in run)
            if silent and frames >= needed:
                found.append((at, at + frames * FRAME))
            at += frames * FRAME
        return found

    def commit(self, sample: int) -> None:
        """Drops the utterance's audio before stream sample ``sample`` (what it holds was
        committed): it goes on from there, and its length limit counts from there."""
        if not self._in_speech or sample <= self._speech_start or sample > self._position:
            return
        self._probs = self._probs[(sample - self._speech_start) // FRAME :]
        self._speech_start = sample
        self._drop_before(sample)
        if self._buffer and self._buffer_start < sample:  # cut the first piece at the sample
            self._buffer[0] = self._buffer[0][sample - self._buffer_start :]
            self._buffer_start = sample

    def end_now(self, index: int, end: int) -> list[Event]:
        """Ends utterance ``index`` at stream sample ``end`` (the ``end`` of its
        UtteranceMayEnd) if the end-of-turn model judged the pause going on complete and it has
        been silent since: the transcript of that audio ends a sentence. Nothing otherwise."""
        silent_since = min(self._last_speech_end + self._pad, self._position)
        judged = self._judged_complete and self.in_speech and self._silence > 0
        if not judged or (self._index, silent_since) != (index, end):
            return []
        return [self._end(end)]

    def feed(self, samples: np.ndarray) -> list[Event]:
        """Processes the next samples; returns the events they completed."""
        joined = np.concatenate([self._unframed, samples]) if self._unframed.size else samples
        whole = joined.shape[0] // FRAME * FRAME
        self._unframed = joined[whole:].copy()
        events: list[Event] = []
        if whole == 0:
            return events
        probs = self._vad.feed(joined[:whole])
        for i, prob in enumerate(probs):
            events.extend(self._frame(joined[i * FRAME : (i + 1) * FRAME], float(prob)))
        return events

    def flush(self) -> list[Event]:
        """Ends the utterance in progress, if any (end of stream or a finalize request)."""
        if not (self._in_speech and self._speech_frames * FRAME >= _ms(self.options.min_speech_ms)):
            self._reset_idle()
            return []
        events: list[Event] = []
        if not self._started:
            events.append(self._start_event())
        events.append(self._end(self._position))
        return events

    def _frame(self, frame: np.ndarray, prob: float) -> list[Event]:
        start = self._position
        self._position += FRAME
        self._buffer.append(frame)
        if not self._in_speech:
            return self._idle_frame(start, prob)
        self._probs.append(prob)
        events: list[Event] = []
        if prob >= self.options.threshold:
            self._speech_frames += 1
            self._silence = 0
            self._last_speech_end = self._position
        elif prob < self._neg_threshold:
            self._silence += FRAME
        else:
            self._silence = 0
        if not self._silence:  # a new pause, if any, is judged afresh
            self._judged_complete = False
        if not self._started and self._speech_frames * FRAME >= _ms(self.options.min_speech_ms):
            events.append(self._start_event())
        early = _ms(self.options.early_ms)
        if self._started and 0 < early < self._limit and self._crossed(early):
            events.append(self._may_end(min(self._last_speech_end + self._pad, self._position)))
        if self._silence >= self._limit or (self._started and self._turn_complete()):
            if self._started:
                events.append(self._end(min(self._last_speech_end + self._pad, self._position)))
            else:
                self._reset_idle()  # a burst too short to be speech
        elif self._position - self._speech_start >= _ms(self.options.max_utterance_ms):
            events.extend(self._cut())
        return events

    def _mean_probability(self) -> float:
        """Mean speech probability of the utterance's frames up to its last speech."""
        voiced = self._probs[: max(1, len(self._probs) - self._silence // FRAME)]
        return float(np.mean(voiced)) if voiced else 0.0

    def _crossed(self, silence: int) -> bool:
        """True on the frame where the silence reaches ``silence`` samples."""
        return self._silence - FRAME < silence <= self._silence

    def _turn_complete(self) -> bool:
        """Asks the end-of-turn model, once per pause, whether the turn is complete."""
        if self._turn is None or not self._crossed(_ms(self.options.turn_check_ms)):
            return False
        complete = self._turn.probability(self.current_audio()) >= self.options.turn_threshold
        if self.options.turn_transcript:  # the transcript has the last word (end_now)
            self._judged_complete = complete
            return False
        return complete

    def _idle_frame(self, start: int, prob: float) -> list[Event]:
        # Keep only the pre-roll while idle.
        self._drop_before(self._position - self._pad - FRAME)
        if prob < self.options.threshold:
            return []
        self._in_speech = True
        self._speech_frames = 1
        self._silence = 0
        self._speech_start = start
        self._last_speech_end = self._position
        self._probs = [prob]
        self._drop_before(start - self._pad)
        return []

    def _drop_before(self, sample: int) -> None:
        """Drops buffered pieces that end before stream sample ``sample``."""
        while self._buffer and self._buffer_start + self._buffer[0].shape[0] <= sample:
            self._buffer_start += self._buffer.pop(0).shape[0]

    def _start_event(self) -> SpeechStarted:
        self._started = True
        return SpeechStarted(self._index, self._speech_start)

    def _may_end(self, end: int) -> UtteranceMayEnd:
        audio = self.current_audio()[: max(0, end - self._buffer_start)]
        return UtteranceMayEnd(
            self._index, audio, self._speech_start, end, min(self._last_speech_end, end),
            self._mean_probability(), self._buffer_start,
        )  # fmt: skip

    def _end(self, end: int) -> UtteranceEnded:
        audio = self.current_audio()[: max(0, end - self._buffer_start)]
        event = UtteranceEnded(
            self._index, audio, self._speech_start, end, min(self._last_speech_end, end),
            self._mean_probability(), self._buffer_start,
        )  # fmt: skip
        self._index += 1
        # What followed the utterance's end stays as pre-roll of the next one.
        rest = self.current_audio()[audio.shape[0] :]
        self._buffer = [rest] if rest.size else []
        self._buffer_start = end
        self._in_speech = False
        self._started = False
        self._speech_frames = 0
        self._silence = 0
        self._probs = []
        self._judged_complete = False
        return event

    def _cut(self) -> list[Event]:
        """Cuts an over-long utterance at the quietest frame of its last two seconds."""
        window = min(len(self._probs), _ms(2000) // FRAME)
        quietest = len(self._probs) - window + int(np.argmin(self._probs[-window:]))
        cut_at = self._speech_start + quietest * FRAME + FRAME
        cut_at = max(cut_at, self._speech_start + FRAME)
        ended = self._end(min(cut_at, self._position))
        # Speech goes on: the remainder opens the next utterance at once.
        self._in_speech = True
        self._speech_start = ended.end
        self._last_speech_end = self._position
        self._speech_frames = max(1, (self._position - ended.end) // FRAME)
        self._probs = [1.0] * max(1, (self._position - ended.end) // FRAME)
        events: list[Event] = [ended]
        if self._speech_frames * FRAME >= _ms(self.options.min_speech_ms):
            events.append(self._start_event())
        return events

    def _reset_idle(self) -> None:
        self._in_speech = False
        self._started = False
        self._speech_frames = 0
        self._silence = 0
        self._probs = []
