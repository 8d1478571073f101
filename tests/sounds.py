"""Sounds that are not speech, made by the tests: babble, music-like tones, noise."""

from __future__ import annotations

import numpy as np

from tests.voices import say, voices

RATE = 16_000
_BABBLE = {
    "en": "The weather is lovely today, so we will walk to the park after lunch.",
    "es": "Hace muy buen tiempo hoy, así que iremos al parque después de comer.",
    "fr": "Il fait très beau aujourd'hui, alors nous irons au parc après le déjeuner.",
    "de": "Das Wetter ist heute herrlich, also gehen wir nach dem Mittagessen in den Park.",
    "it": "Oggi il tempo è bellissimo, quindi andremo al parco dopo pranzo.",
}


def babble(seconds: float, talkers: int = 5, seed: int = 0) -> np.ndarray:
    """Several voices of several languages played backwards and mixed: speech-like, no words."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    mix = np.zeros(n, np.float32)
    languages = list(_BABBLE)
    for k in range(talkers):
        language = languages[k % len(languages)]
        voice = voices(language)[k % 3]
        backwards = say(_BABBLE[language], voice)[::-1]
        track = np.tile(backwards, n // backwards.size + 1)[:n]
        mix += np.roll(track, int(rng.integers(0, n))) * (1.5 / talkers)
    return np.clip(mix, -1, 1).astype(np.float32)


def tones(seconds: float, seed: int = 0) -> np.ndarray:
    """A melody of harmonic notes, four a second: music-like."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    notes = 220 * 2 ** (rng.integers(0, 12, int(seconds * 4) + 1) / 12)
    frequency = np.repeat(notes, RATE // 4)[:n]
    phase = 2 * np.pi * np.cumsum(frequency) / RATE
    return (0.3 * np.sin(phase) + 0.15 * np.sin(2 * phase) + 0.08 * np.sin(3 * phase)).astype(
        np.float32
    )


def white_noise(seconds: float, level: float = 0.1, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * RATE)) * level).astype(
        np.float32
    )
