"""The time-stretch: real speech keeps its pitch and takes the time asked for."""

from __future__ import annotations

import numpy as np
import pytest

from services.tts.tempo import stretch
from tests.voices import Voice, say

RATE = 16_000


def pitch_hz(samples: np.ndarray) -> float:
    """Median fundamental frequency of the voiced frames (Praat's pitch tracker)."""
    import parselmouth

    track = parselmouth.Sound(samples.astype(np.float64), RATE).to_pitch()
    voiced = track.selected_array["frequency"]
    return float(np.median(voiced[voiced > 0]))


SPOKEN = {
    "pico": ("Hace muy buen tiempo hoy, así que iremos al parque.", Voice("pico", "es-ES", "es")),
    "piper": ("The weather is lovely today, so we will walk to the park.",
              Voice("piper", "joe", "en")),
}  # fmt: skip


@pytest.mark.parametrize("engine", sorted(SPOKEN))
@pytest.mark.parametrize("factor", [0.5, 1.3, 1.75, 2.0])
def test_speech_takes_the_time_asked_for_at_its_own_pitch(engine, factor):
    speech = say(*SPOKEN[engine])
    faster = stretch(speech, RATE, factor)
    assert faster.shape[0] == pytest.approx(speech.shape[0] / factor, rel=0.01)
    before, after = pitch_hz(speech), pitch_hz(faster)
    assert abs(after / before - 1) < 0.05, f"pitch {before:.0f} Hz became {after:.0f} Hz"


def test_sounds_too_short_to_analyse_are_still_stretched():
    assert stretch(np.zeros(0, np.float32), RATE, 1.5).shape == (0,)
    blip = np.full(100, 0.1, np.float32)  # 6 ms: less than three periods of a low voice
    assert stretch(blip, RATE, 2.0).shape == (50,)


def test_factors_outside_the_range_are_refused():
    with pytest.raises(ValueError, match="outside"):
        stretch(np.zeros(RATE, np.float32), RATE, 2.5)
