"""Speech made faster without raising its pitch: FFmpeg's ``atempo`` filter, through PyAV.

For engines that cannot speak faster themselves, or only a little (see
:attr:`services.tts.engines.base.Engine.honours_rate`): a room that falls behind asks for
speech at up to 1.5x, and the time-stretch gives it whatever the engine does not.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

MIN_FACTOR, MAX_FACTOR = 0.5, 2.0  # one atempo stage keeps its quality in this range


class Tempo:
    """Changes the speed of one stream of mono float32 audio by ``factor`` (2.0: twice as
    fast), chunk by chunk; :meth:`flush` gives what the filter still holds at the end."""

    def __init__(self, sample_rate: int, factor: float) -> None:
        if not MIN_FACTOR <= factor <= MAX_FACTOR:
            raise ValueError(f"tempo factor {factor} is outside {MIN_FACTOR}-{MAX_FACTOR}")
        self._rate = sample_rate
        self._base = Fraction(1, sample_rate)
        self._pts = 0
        self._graph = av.filter.Graph()
        source = self._graph.add_abuffer(
            format="flt", sample_rate=sample_rate, layout="mono", time_base=self._base
        )
        tempo = self._graph.add("atempo", f"{factor:.4f}")
        sink = self._graph.add("abuffersink")
        source.link_to(tempo)
        tempo.link_to(sink)
        self._graph.configure()

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """The stretched audio the filter can give so far, after taking ``chunk``."""
        if not chunk.shape[0]:
            return np.zeros(0, np.float32)
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(chunk, np.float32)[None, :], format="flt", layout="mono"
        )
        frame.sample_rate, frame.time_base, frame.pts = self._rate, self._base, self._pts
        self._pts += chunk.shape[0]
        self._graph.push(frame)
        return self._pull()

    def flush(self) -> np.ndarray:
        """The rest of the stretched audio; the stream ends here."""
        self._graph.push(None)
        return self._pull()

    def _pull(self) -> np.ndarray:
        out = []
        while True:
            try:
                frame = self._graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                break
            out.append(frame.to_ndarray()[0])
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)
