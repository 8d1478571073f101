"""What every text-to-speech engine provides: its voices, and audio for a sentence."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np


class Quality(enum.IntEnum):
    """Quality class of a voice; a higher value ranks first."""

    UNSPECIFIED = 0
    FORMANT = 1
    STANDARD = 2
    NEURAL = 3


class Gender(enum.Enum):
    """Gender of a voice, where known."""

    UNSPECIFIED = "unspecified"
    FEMALE = "female"
    MALE = "male"
    NEUTRAL = "neutral"


def normalize_language(code: str) -> str:
    """A language tag in one spelling: ``en_us`` and ``EN-us`` become ``en-US``.

    The primary language is lower case, a two-letter region upper case, a four-letter script
    title case, and anything else (and everything after a singleton such as ``x``) lower case.
    """
    parts = [p for p in code.replace("_", "-").strip().split("-") if p]
    if not parts:
        return ""
    out = [parts[0].lower()]
    for part in parts[1:]:
        if any(len(p) == 1 for p in out[1:]):
            out.append(part.lower())  # after a singleton (x-, u-): private or extension
        elif len(part) == 2 and part.isalpha():
            out.append(part.upper())
        elif len(part) == 4 and part.isalpha():
            out.append(part.title())
        else:
            out.append(part.lower())
    return "-".join(out)


def primary_language(code: str) -> str:
    """The primary language subtag: ``en`` for ``en-US``."""
    return normalize_language(code).split("-", 1)[0]


@dataclass(frozen=True)
class Voice:
    """A voice an engine can speak with.

    Attributes:
        engine: name of the engine, for example ``pico``.
        id: the engine's own name for the voice, for example ``es-ES``.
        languages: normalised language tags it speaks, most specific first.
        sample_rate: native rate of its audio, in Hz.
        gender: gender where known.
        quality: quality class, used to rank default voices.
        description: one line for people.
    """

    engine: str
    id: str
    languages: tuple[str, ...]
    sample_rate: int
    gender: Gender = Gender.UNSPECIFIED
    quality: Quality = Quality.UNSPECIFIED
    description: str = field(default="", compare=False)

    @property
    def name(self) -> str:
        """The name clients select it by: ``engine:id``."""
        return f"{self.engine}:{self.id}"


@dataclass(frozen=True)
class SynthesisOptions:
    """How to speak.

    Attributes:
        speaking_rate: speed relative to the voice's normal rate, from 0.25 to 4.
        trim_silence: cut the padding before the first sound and after the last (see
            :mod:`services.tts.synthesis`); engines ignore it.
    """

    speaking_rate: float = 1.0
    trim_silence: bool = False


class Engine(ABC):
    """A text-to-speech engine.

    Engines know nothing of gRPC: they raise :mod:`parley.errors` types. Both methods block
    and run in worker threads, never on the event loop. One instance serves every request of
    the process, so implementations are thread-safe.
    """

    name: str = ""
    first_clause: bool = True
    """Whether a stream's first clause is worth speaking on its own (see
    :mod:`services.tts.synthesis`): true for local engines, which analyse a whole sentence before
    its first sound; an API that streams as it goes would only pay one more request."""
    honours_rate: bool = True
    """Whether the engine speaks at the ``speaking_rate`` asked for. One that does not (or only
    in part) is given 1.0 and its audio is time-stretched (:mod:`services.tts.tempo`)."""

    @abstractmethod
    def voices(self) -> list[Voice]:
        """The voices this engine offers, in its own order of preference.

        Must be cheap (no model loading): it runs once when the service starts.

        Raises:
            EngineUnavailable: if the engine cannot run here (missing library or setting).
        """

    @abstractmethod
    def synthesize(
        self, text: str, voice: Voice, options: SynthesisOptions
    ) -> Iterator[np.ndarray]:
        """Speaks one sentence, yielding mono float32 chunks at ``voice.sample_rate`` as soon as
        the engine has them. Closing the iterator early stops the synthesis.

        Raises:
            InvalidInput: if the engine cannot speak this text.
            EngineUnavailable: if the engine failed.
        """

    def warm_up(self, voice: Voice) -> None:  # noqa: B027 - optional hook, empty by default
        """Loads what ``voice`` needs so that its first request is fast. Optional."""

    def close(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Releases what the engine holds. Optional."""
