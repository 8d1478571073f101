"""The recogniser interface every speech-to-text engine implements.

An engine turns one utterance (16 kHz mono float32) into a :class:`Transcript`. Splitting a
stream into utterances, partial hypotheses and scheduling are the service's job, not the
engine's, so an engine is one blocking method plus a description of itself.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16_000
TRANSCRIBE = "transcribe"
TRANSLATE = "translate"


@dataclass(frozen=True)
class RecognitionOptions:
    """Per-request options.

    Attributes:
        language: ISO 639-1 code spoken, or None to detect it.
        task: ``transcribe`` or ``translate`` (to English).
        word_timestamps: return word timings.
        candidate_languages: when detecting, choose only among these codes (empty: any).
        prompt: text that conditions the recogniser (names, terms).
        partial: a partial hypothesis, which may be decoded more cheaply.
    """

    language: str | None = None
    task: str = TRANSCRIBE
    word_timestamps: bool = False
    candidate_languages: tuple[str, ...] = ()
    prompt: str | None = None
    partial: bool = False


@dataclass(frozen=True)
class Word:
    """A word and its timing in seconds from the start of the utterance."""

    word: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class Transcript:
    """What an engine heard in one utterance.

    Attributes:
        text: the words.
        language: ISO 639-1 code of the language heard (or given).
        language_probability: how sure the engine is of it.
        words: word timings, when asked for.
        avg_logprob: the engine's average log-probability per token (0 when it has none).
        no_speech_prob: the engine's probability that the audio holds no speech (0 when it
            has none).
    """

    text: str
    language: str
    language_probability: float
    words: tuple[Word, ...] = ()
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0


@dataclass(frozen=True)
class ModelDescription:
    """What ListModels says of a model."""

    name: str
    engine: str
    multilingual: bool
    languages: tuple[str, ...]
    supports_translation: bool
    source: str
    description: str


class Recognizer(abc.ABC):
    """A speech-to-text engine for one model."""

    @property
    @abc.abstractmethod
    def description(self) -> ModelDescription:
        """Name, languages and abilities of the model."""

    @property
    def loaded(self) -> bool:
        """True once the model is in memory."""
        return True

    @property
    def word_timings(self) -> bool:
        """True if partial decodes can carry word timings, which committing sentences while an
        utterance goes on needs (and cheap enough to run every few hundred ms)."""
        return False

    def load(self) -> None:  # noqa: B027 - optional hook, most API engines have nothing to load
        """Loads the model (blocking, idempotent). Engines with nothing to load do nothing."""

    @abc.abstractmethod
    def check(self, options: RecognitionOptions) -> None:
        """Raises UnsupportedLanguage or InvalidInput if the options cannot be served."""

    @abc.abstractmethod
    def transcribe(self, audio: np.ndarray, options: RecognitionOptions) -> Transcript:
        """Recognises one utterance (blocking; runs in a worker thread).

        Args:
            audio: 16 kHz mono float32 samples in [-1, 1].
            options: language, task and extras.
        """
