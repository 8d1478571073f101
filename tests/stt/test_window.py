"""The fitted recognition window: its size, the checks on its output, and real decodes."""

from __future__ import annotations

import numpy as np
import pytest

from parley.metrics import WINDOW_FALLBACKS
from services.stt.engine import RecognitionOptions
from services.stt.models import BUILTIN, default_cache_dir
from services.stt.whisper import WhisperRecognizer
from services.stt.window import (
    FULL_FRAMES,
    WindowPolicy,
    compression_ratio,
    max_words,
    repeated_span,
    suspect,
    token_budget,
    without_loops,
)
from tests.speech import wer
from tests.voices import Voice, say


def test_fitted_window_is_the_audio_plus_margin_at_least_the_minimum():
    policy = WindowPolicy("fit", margin_ms=1000, min_ms=10_000)
    assert policy.frames(400) == 1000  # 4 s: the 10 s minimum
    assert policy.frames(1201) == 1302  # 12 s + 1 s, rounded up to even
    assert policy.frames(2950) == FULL_FRAMES  # never beyond 30 s
    assert WindowPolicy("fit", margin_ms=500, min_ms=0).frames(300) == 350
    assert WindowPolicy("full").frames(400) == FULL_FRAMES


def test_repeated_spans_are_loops_but_ordinary_speech_is_not():
    assert repeated_span("mi senti adesso mi senti adesso".split())
    assert repeated_span("getzug k tum k tum k tum morgen".split())
    assert repeated_span("no no no no".split())
    assert not repeated_span("no no no".split())
    assert not repeated_span("thank you thank you so much".split())
    assert repeated_span("ja natürlich ja natürlich".split())  # the whole output, twice
    assert not repeated_span("ja ja".split())
    assert not repeated_span("the weather is lovely today so we will walk to the park".split())


def test_suspect_names_each_symptom():
    policy = WindowPolicy()
    fine = "Please send me the report before Friday."
    assert suspect(fine, 9, 3.0, -0.2, policy) is None
    assert suspect(fine, token_budget(3.0), 3.0, -0.2, policy) == "token_limit"
    assert suspect("Ti richiamo dopo. Ti richiamo dopo.", 10, 3.0, -0.2, policy) == "repetition"
    # Whisper looping inside a word, as heard in noisy French: a loop too.
    looping = "Quand les enfants, fournant le noir, glichotototototototototototototo"
    assert suspect(looping, 30, 7.0, -0.2, policy) == "repetition"
    assert suspect("Il a gagné 1000000 euros, hahaha.", 10, 3.0, -0.2, policy) is None
    many = " ".join(f"word{i}" for i in range(max_words(1.0) + 1))
    assert suspect(many, 12, 1.0, -0.2, policy) == "too_many_words"
    assert suspect(fine, 9, 3.0, -1.5, policy) == "low_confidence"
    assert compression_ratio("la " * 40) > 2.4 > compression_ratio(fine)


@pytest.fixture(scope="module")
def base():
    engine = WhisperRecognizer(BUILTIN[0], default_cache_dir(), "cpu", "int8")
    engine.load()
    return engine


def _clip(text: str, voice: Voice) -> np.ndarray:
    pad = np.zeros(3200, np.float32)
    return np.concatenate([pad, say(text, voice), pad])


CLEAR = [
    ("Please send me the report before Friday.", Voice("pico", "en-US", "en")),
    ("I will call you back after the meeting.", Voice("piper", "joe", "en")),
    ("El tren sale a las ocho de la mañana.", Voice("pico", "es-ES", "es")),
    ("Der Zug fährt um acht Uhr morgens ab.", Voice("mbrola", "mb-de2", "de", speed=0.95)),
]


@pytest.mark.parametrize(("text", "voice"), CLEAR, ids=[v.label for _, v in CLEAR])
def test_fitted_window_hears_what_the_full_window_hears(base, text, voice):
    audio = _clip(text, voice)
    options = RecognitionOptions(language=voice.language, word_timestamps=True)
    fitted = base.with_window(WindowPolicy("fit")).transcribe(audio, options)
    full = base.with_window(WindowPolicy("full")).transcribe(audio, options)
    assert wer(text, fitted.text) <= 0.15, fitted.text
    assert wer(text, fitted.text) <= wer(text, full.text) + 0.1, (full.text, fitted.text)
    # Word timings come from the fitted window too, inside the clip and in order.
    starts = [w.start for w in fitted.words]
    assert starts == sorted(starts) and 0 <= starts[0]
    assert fitted.words[-1].end <= audio.shape[0] / 16_000 + 0.1


# Short clips on which Whisper base loops when the window is only the audio and a margin
# (measured: the sentence repeated until the token limit).
LOOPING = [
    ("Mi senti adesso?", Voice("pico", "it-IT", "it", speed=0.85, pitch=0.9)),
    ("Ti richiamo dopo la riunione.", Voice("pico", "it-IT", "it", speed=1.25, pitch=1.15)),
    ("Yes, of course.", Voice("espeak", "en", "en")),
    ("Yes, of course.", Voice("espeak", "en+m3", "en", speed=0.9, pitch=0.8)),
]


def test_runaway_decodes_fall_back_to_the_full_window(base):
    tight = base.with_window(WindowPolicy("fit", margin_ms=1000, min_ms=0))

    def fallbacks() -> float:
        return sum(s.value for m in WINDOW_FALLBACKS.collect() for s in m.samples
                   if s.name.endswith("_total"))  # fmt: skip

    before = fallbacks()
    for text, voice in LOOPING:
        heard = tight.transcribe(_clip(text, voice), RecognitionOptions(language=voice.language))
        assert len(heard.text.split()) <= 1.5 * len(text.split()), heard.text
        assert wer(text, heard.text) <= 0.5, heard.text
    # These clips loop on such a window: the guard caught at least one and decoded it again.
    assert fallbacks() > before


def test_loops_are_cut_to_their_first_pass():
    assert without_loops("Je suis très très très très très très") == "Je suis très"
    assert without_loops("Mi senti adesso? Mi senti adesso? mi senti adesso?") == "Mi senti adesso?"
    assert without_loops("No, no, no. Thank you, thank you.") == "No, no, no. Thank you, thank you."
    assert without_loops("fournant le noir, glichototototototototo") == "fournant le noir, glichoto"
    assert without_loops("Il a gagné 1000000 euros.") == "Il a gagné 1000000 euros."
