"""The two places the STT service relies on more of faster-whisper than its public API: each
wrapped in one function, and tested here so that an upgrade that changes them fails loudly."""

from __future__ import annotations

import numpy as np

from services.stt.vad import FRAME, StreamingVad, silero_model
from services.stt.whisper import whisper_languages
from tests.speech import silence, speak


def test_whisper_knows_the_languages_parley_offers():
    languages = whisper_languages()
    assert len(languages) >= 99 and len(set(languages)) == len(languages)
    assert {"en", "es", "fr", "de", "it", "pt", "ca", "gl", "ro", "zh", "ja"} <= set(languages)


def test_the_silero_model_ships_in_faster_whisper_and_hears_speech():
    assert silero_model().is_file()
    vad = StreamingVad()
    quiet = vad.feed(silence(1.0))
    spoken = vad.feed(speak("Good morning, everyone.", "en")[: FRAME * 40])
    assert max(quiet) < 0.1 and np.mean(spoken > 0.5) > 0.5
