"""Speech made faster or slower without changing its pitch: pitch-synchronous overlap-add
(PSOLA, Praat's "Lengthen (overlap-add)", through parselmouth).

For engines that cannot speak at another rate themselves, or only a little (see
:attr:`services.tts.engines.base.Engine.honours_rate`): a room that falls behind asks for
speech at up to ``PARLEY_ROOMS_CATCH_UP_RATE``, and the stretch gives what the engine does not.
PSOLA moves whole pitch periods, so a sped-up voice keeps its clarity better than FFmpeg's
general-purpose ``atempo`` (WSOLA), which Parley used before: at 1.75x, Whisper base misheard
SVOX Pico's Spanish 0.079 of words against 0.093 (161 sentences), its German 0.142 against 0.168
and its French 0.247 against 0.268 (100 sentences each); at 1x, 0.057, 0.087 and 0.148.

A sentence is stretched whole (pitch marks need the sound around them): it costs about 3 ms a
second of speech, and only speech asked for at another rate waits for its sentence's end.
"""

from __future__ import annotations

import numpy as np

MIN_FACTOR, MAX_FACTOR = 0.5, 2.0  # the range stretched; engines handle rates beyond it
MIN_PITCH_HZ, MAX_PITCH_HZ = 75.0, 600.0  # the voices' pitch range, for the pitch marks
_MIN_SECONDS = 3 / MIN_PITCH_HZ  # Praat's pitch analysis needs three periods of the lowest


def stretch(samples: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """``samples`` (mono float32) spoken ``factor`` times as fast (2.0: in half the time), at
    the same pitch."""
    if not MIN_FACTOR <= factor <= MAX_FACTOR:
        raise ValueError(f"tempo factor {factor} is outside {MIN_FACTOR}-{MAX_FACTOR}")
    length = round(samples.shape[0] / factor)
    if not length:
        return np.zeros(0, np.float32)
    if samples.shape[0] < _MIN_SECONDS * sample_rate:  # a few milliseconds: too short to hear
        positions = np.linspace(0, max(samples.shape[0] - 1, 0), length)
        return np.interp(positions, np.arange(samples.shape[0]), samples).astype(np.float32)
    import parselmouth
    from parselmouth.praat import call

    sound = parselmouth.Sound(samples.astype(np.float64), sampling_frequency=sample_rate)
    stretched = call(sound, "Lengthen (overlap-add)", MIN_PITCH_HZ, MAX_PITCH_HZ, 1 / factor)
    return stretched.values[0].astype(np.float32)
