"""One synthesis from text to encoded audio, as blocking code for a worker thread.

The text is spoken sentence by sentence; the engine's chunks are resampled to the rate the
client asked for, encoded, and cut into pieces of at most ``max_chunk_samples``. Nothing is
held beyond the piece being handed over, so a stream of any length runs in bounded memory.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from parley import audio
from services.tts.engines.base import Engine, SynthesisOptions, Voice
from services.tts.text import sentences


@dataclass(frozen=True)
class Piece:
    """A piece of a synthesised stream.

    Attributes:
        audio: encoded audio bytes.
        samples: number of samples in it.
        sentence_index: the sentence it belongs to, from 0.
        offset: position of its first sample from the start of the stream, in samples.
    """

    audio: bytes
    samples: int
    sentence_index: int
    offset: int


@dataclass(frozen=True)
class Job:
    """What to say, with which voice, in which output format.

    Attributes:
        engine: the engine that speaks ``voice``.
        voice: the voice.
        text: speakable text (see :func:`services.tts.text.speakable`).
        options: delivery options.
        format: the output format; its rate is the output rate.
        max_chunk_samples: longest piece, in output samples.
        pitch: playback speed factor giving a speaker their own pitch (1.0: the voice as is).
    """

    engine: Engine
    voice: Voice
    text: str
    options: SynthesisOptions
    format: audio.AudioFormat
    max_chunk_samples: int = 1600
    pitch: float = 1.0

    @property
    def _source_rate(self) -> int:
        """The rate the engine's audio is taken to have: played faster for a higher pitch."""
        return round(self.voice.sample_rate * self.pitch)

    def _float_chunks(self) -> Iterator[tuple[int, np.ndarray]]:
        """(sentence index, float32 chunk at the voice's rate), as the engine makes them."""
        for index, sentence in enumerate(sentences(self.text)):
            chunks = self.engine.synthesize(sentence, self.voice, self.options)
            with contextlib.closing(chunks):  # stopping early stops the engine too
                for chunk in chunks:
                    yield index, chunk

    def pieces(self) -> Iterator[Piece]:
        """The stream: encoded pieces in order, each as soon as the engine made its audio."""
        resampler = audio.StreamResampler(self._source_rate, self.format.sample_rate)
        offset, index = 0, 0
        produced = self._float_chunks()
        with contextlib.closing(produced):
            for index, chunk in produced:
                for piece in self._cut(resampler.process(chunk), index, offset):
                    offset += piece.samples
                    yield piece
        for piece in self._cut(
            resampler.process(np.zeros(0, np.float32), last=True), index, offset
        ):
            yield piece

    def _cut(self, samples: np.ndarray, index: int, offset: int) -> Iterator[Piece]:
        for start in range(0, samples.shape[0], self.max_chunk_samples):
            part = samples[start : start + self.max_chunk_samples]
            yield Piece(audio.encode(part, self.format), part.shape[0], index, offset + start)

    def clip(self, stop: threading.Event | None = None) -> tuple[bytes, int]:
        """The whole clip, encoded (a WAV file for WAV), and its length in samples.

        Setting ``stop`` (the caller went away) ends the synthesis at the next chunk; what was
        made so far is returned.
        """
        parts = []
        produced = self._float_chunks()
        with contextlib.closing(produced):
            for _, chunk in produced:
                parts.append(chunk)
                if stop is not None and stop.is_set():
                    break
        samples = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        samples = audio.resample(samples, self._source_rate, self.format.sample_rate)
        return audio.encode(samples, self.format), samples.shape[0]
