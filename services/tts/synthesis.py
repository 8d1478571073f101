"""One synthesis from text to encoded audio, as blocking code for a worker thread.

The text is spoken sentence by sentence; the engine's chunks are resampled to the rate the
client asked for, encoded, and cut into pieces of at most ``max_chunk_samples``. Nothing is
held beyond the piece being handed over, so a stream of any length runs in bounded memory.

A stream's first piece leaves as soon as the engine has any audio; the following ones are
gathered to ``max_chunk_samples`` (fewer, fuller messages for every listener of a room to
receive). With ``first_clause``, a stream's first sentence is spoken in two parts, cut after its
first clause (see :func:`services.tts.text.first_clause`): engines analyse a whole sentence
before its first sound, so a shorter first part comes out sooner (SVOX Pico: 3-5 ms for a short
clause instead of 10-18 ms for a sentence of 50-100 characters). The silence an engine puts at
the end of the first part is cut to :data:`CLAUSE_PAUSE_S`, about the pause it makes at a comma.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from parley import audio, codecs, errors
from services.tts.engines.base import Engine, SynthesisOptions, Voice
from services.tts.tempo import MAX_FACTOR, MIN_FACTOR, stretch
from services.tts.text import first_clause, sentences

LEAD_S, TAIL_S = 0.05, 0.15
"""Silence kept before the first sound and after the last with ``trim_silence``."""
CLAUSE_PAUSE_S = 0.25
"""Silence kept at the end of a first clause spoken on its own (engines pause 0.25-0.3 s at a
comma inside a sentence, and 0.45-0.6 s at the end of a text)."""
SILENCE_LEVEL = 0.005
"""Samples quieter than this (about -46 dBFS) count as silence when trimming a clause's end."""


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
        first_clause: stream the first clause of the first sentence on its own (see the
            module's doc); a whole clip never does.
        max_clip_bytes: the largest whole clip :meth:`clip` may build (0: no limit).
    """

    engine: Engine
    voice: Voice
    text: str
    options: SynthesisOptions
    format: audio.AudioFormat
    max_chunk_samples: int = 1600
    pitch: float = 1.0
    first_clause: bool = False
    max_clip_bytes: int = 0

    @property
    def _source_rate(self) -> int:
        """The rate the engine's audio is taken to have: played faster for a higher pitch."""
        return round(self.voice.sample_rate * self.pitch)

    def _float_chunks(self, split: bool = False) -> Iterator[tuple[int, np.ndarray]]:
        """(sentence index, float32 chunk at the voice's rate), as the engine makes them.

        With ``split``, the first sentence is spoken as its first clause, then the rest; with
        the ``trim_silence`` option, the silence before the first sound and after the last is
        cut to :data:`LEAD_S` and :data:`TAIL_S`.
        """
        produced = self._engine_chunks(split)
        if not self.options.trim_silence:
            yield from produced
            return
        current = [0]  # the sentence of the chunk the trimming last took

        def sound() -> Iterator[np.ndarray]:
            for index, chunk in produced:
                current[0] = index
                yield chunk

        rate = self.voice.sample_rate
        lead = _trim_silent_start(sound(), round(LEAD_S * rate))
        with contextlib.closing(produced):
            for chunk in _trim_silent_end(lead, round(TAIL_S * rate)):
                yield current[0], chunk

    def _engine_chunks(self, split: bool) -> Iterator[tuple[int, np.ndarray]]:
        for index, sentence in enumerate(sentences(self.text)):
            parts = (first_clause(sentence) if split and index == 0 else None) or (sentence,)
            for number, part in enumerate(parts):
                chunks = self._spoken(part)
                with contextlib.closing(chunks):  # stopping early stops the engine too
                    if number < len(parts) - 1:
                        keep = round(CLAUSE_PAUSE_S * self.voice.sample_rate)
                        for chunk in _trim_silent_end(chunks, keep):
                            yield index, chunk
                    else:
                        for chunk in chunks:
                            yield index, chunk

    def _spoken(self, text: str) -> Iterator[np.ndarray]:
        """The engine's chunks for ``text``, at the speaking rate asked for: an engine that does
        not honour rates speaks at its own, and the whole of ``text`` is stretched to make up
        the difference (:mod:`services.tts.tempo`)."""
        rate = self.options.speaking_rate
        if self.engine.honours_rate or rate == 1.0 or not MIN_FACTOR <= rate <= MAX_FACTOR:
            yield from self.engine.synthesize(text, self.voice, self.options)
            return
        natural = dataclasses.replace(self.options, speaking_rate=1.0)
        chunks = self.engine.synthesize(text, self.voice, natural)
        with contextlib.closing(chunks):
            spoken = list(chunks)
        if spoken:
            yield stretch(np.concatenate(spoken), self.voice.sample_rate, rate)

    def pieces(self) -> Iterator[Piece]:
        """The stream: encoded pieces in order. The first leaves as soon as the engine made any
        audio; the next ones are gathered to ``max_chunk_samples`` (or the end of a sentence).
        Opus output goes through one encoder for the whole stream: a piece per packet (raw
        Opus) or per run of completed Ogg pages."""
        produced = self._float_pieces()
        with contextlib.closing(produced):  # stopping early stops the engine too
            if self.format.encoding not in audio.OPUS_OUTPUT:
                for samples, index, offset in produced:
                    yield Piece(audio.encode(samples, self.format), samples.shape[0], index, offset)
                return
            encoder = self.format.opus_encoder()
            at, index = 0, 0  # samples given to the encoder
            for samples, index, offset in produced:
                encoded = encoder.encode(samples)
                yield from self._opus_pieces(encoded, samples.shape[0], index, offset)
                at = offset + samples.shape[0]
            yield from self._opus_pieces(encoder.flush(), 0, index, at)

    def _opus_pieces(self, encoded: list[bytes], samples: int, index: int, offset: int):
        """Pieces of Opus output covering ``samples`` samples from ``offset``: one per raw packet
        (20 ms each), or the Ogg bytes as one."""
        if self.format.encoding == codecs.OPUS:
            for n, packet in enumerate(encoded):
                yield Piece(packet, codecs.OPUS_FRAME, index, offset + n * codecs.OPUS_FRAME)
        elif encoded:
            yield Piece(b"".join(encoded), samples, index, offset)

    def _float_pieces(self) -> Iterator[tuple[np.ndarray, int, int]]:
        """(samples at the output rate, sentence index, offset) of each piece, in order."""
        resampler = audio.StreamResampler(self._source_rate, self.format.sample_rate)
        offset, index = 0, 0
        gathered: list[np.ndarray] = []
        size = 0
        produced = self._float_chunks(split=self.first_clause)
        with contextlib.closing(produced):
            for sentence, chunk in produced:
                if sentence != index and size:  # a piece belongs to one sentence
                    piece = np.concatenate(gathered)
                    yield piece, index, offset
                    offset += piece.shape[0]
                    gathered, size = [], 0
                index = sentence
                samples = resampler.process(chunk)
                if not samples.shape[0]:
                    continue
                gathered.append(samples)
                size += samples.shape[0]
                if offset and size < self.max_chunk_samples:
                    continue  # not the first piece: wait for a full one
                joined = np.concatenate(gathered)
                whole = joined.shape[0] if not offset else size - size % self.max_chunk_samples
                for piece in self._cut(joined[:whole]):
                    yield piece, index, offset
                    offset += piece.shape[0]
                gathered = [joined[whole:]] if whole < size else []
                size -= whole
        gathered.append(resampler.process(np.zeros(0, np.float32), last=True))
        for piece in self._cut(np.concatenate(gathered)):
            yield piece, index, offset
            offset += piece.shape[0]

    def _cut(self, samples: np.ndarray) -> Iterator[np.ndarray]:
        for start in range(0, samples.shape[0], self.max_chunk_samples):
            yield samples[start : start + self.max_chunk_samples]

    def clip_bytes(self, source_samples: int) -> int:
        """Bytes ``source_samples`` of the engine's audio take in the output format (for Opus,
        as 16-bit PCM would: more than it takes)."""
        width = 4 if self.format.encoding == audio.FLOAT32 else 2
        return source_samples * self.format.sample_rate // self._source_rate * width

    def _too_long(self) -> str:
        return (
            f"the audio would be over {self.max_clip_bytes:,} bytes, the most a unary "
            "Synthesize answers with (PARLEY_TTS_MAX_CLIP_BYTES); use StreamingSynthesize, "
            "a lower sample rate or a shorter text"
        )

    def check_clip_size(self) -> None:
        """Refuses, before any work, a clip that will be over ``max_clip_bytes`` however fast
        the voice speaks (at least 0.04 s a character, at the speaking rate asked for).

        Raises:
            LimitExceeded: naming the limit.
        """
        seconds = len(self.text) * 0.04 / self.options.speaking_rate
        if self.max_clip_bytes and self.clip_bytes(int(seconds * self._source_rate)) > (
            self.max_clip_bytes
        ):
            raise errors.LimitExceeded(self._too_long())

    def clip(self, stop: threading.Event | None = None) -> tuple[bytes, int]:
        """The whole clip, encoded (a WAV file for WAV), and its length in samples.

        Setting ``stop`` (the caller went away) ends the synthesis at the next chunk; what was
        made so far is returned.
        """
        parts, made = [], 0
        produced = self._float_chunks()
        with contextlib.closing(produced):
            for _, chunk in produced:
                parts.append(chunk)
                made += chunk.shape[0]
                if self.max_clip_bytes and self.clip_bytes(made) > self.max_clip_bytes:
                    raise errors.LimitExceeded(self._too_long())
                if stop is not None and stop.is_set():
                    break
        samples = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        samples = audio.resample(samples, self._source_rate, self.format.sample_rate)
        if self.format.encoding == codecs.OGG_OPUS:
            encoder = self.format.opus_encoder()
            data = b"".join([*encoder.encode(samples), *encoder.flush()])
            return data, samples.shape[0]
        return audio.encode(samples, self.format), samples.shape[0]


def _trim_silent_start(chunks: Iterator[np.ndarray], keep: int) -> Iterator[np.ndarray]:
    """``chunks`` with the silence before their first sound cut to ``keep`` samples."""
    held: list[np.ndarray] = []
    for chunk in chunks:
        loud = np.flatnonzero(np.abs(chunk) > SILENCE_LEVEL)
        if not loud.size:
            held.append(chunk)
            continue
        start = int(loud[0])
        before = np.concatenate([*held, chunk[:start]])
        yield np.concatenate([before[max(0, before.shape[0] - keep) :], chunk[start:]])
        yield from chunks
        return
    if held:  # no sound at all
        yield np.concatenate(held)[:keep]


def _trim_silent_end(chunks: Iterator[np.ndarray], keep: int) -> Iterator[np.ndarray]:
    """``chunks`` with the silence after their last sound cut to ``keep`` samples.

    Silence before the first sound passes straight through (it is the start of the stream);
    silence after a sound is held back until more sound follows, so nothing is delayed but
    the silence itself.
    """
    held: list[np.ndarray] = []
    heard = False
    for chunk in chunks:
        loud = np.flatnonzero(np.abs(chunk) > SILENCE_LEVEL)
        if not heard and not loud.size:
            yield chunk
            continue
        if not loud.size:
            held.append(chunk)
            continue
        heard = True
        end = int(loud[-1]) + 1
        yield np.concatenate([*held, chunk[:end]]) if held else chunk[:end]
        held = [chunk[end:]] if end < chunk.shape[0] else []
    if held:
        silence = np.concatenate(held)[:keep]
        if silence.shape[0]:
            yield silence
