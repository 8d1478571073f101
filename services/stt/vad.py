"""Streaming voice activity detection with the Silero VAD model that ships in faster-whisper.

faster-whisper runs Silero over a whole clip; here the same ONNX model runs frame by frame as
audio arrives, carrying the LSTM state and the 64-sample context from one call to the next, so
the probabilities equal those of a whole-clip pass.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from parley.errors import EngineUnavailable

FRAME = 512  # samples per Silero frame at 16 kHz (32 ms)
CONTEXT = 64


def silero_model() -> Path:
    """The Silero VAD model inside faster-whisper's assets. Its file name changes between
    faster-whisper versions (``silero_vad_v6.onnx`` in 1.2), so the one Silero model there is
    taken, whatever its version (tests/stt/test_adapters.py checks this on upgrades).

    Raises:
        EngineUnavailable: if there is not exactly one.
    """
    from faster_whisper.utils import get_assets_path

    found = sorted(Path(get_assets_path()).glob("silero*.onnx"))
    if len(found) != 1:
        raise EngineUnavailable(
            f"expected one Silero VAD model in faster-whisper's assets, found {len(found)}"
        )
    return found[0]


@functools.lru_cache(maxsize=1)
def _session():
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.enable_cpu_mem_arena = False
    opts.log_severity_level = 4
    return onnxruntime.InferenceSession(
        str(silero_model()), providers=["CPUExecutionProvider"], sess_options=opts
    )


class StreamingVad:
    """Speech probability of each 32 ms frame of a 16 kHz stream.

    Not thread-safe: one instance per stream, fed from one thread at a time.
    """

    def __init__(self) -> None:
        self._session = _session()
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    def feed(self, samples: np.ndarray) -> np.ndarray:
        """Returns one probability per complete frame now available (may be empty)."""
        audio = np.concatenate([self._pending, samples]) if self._pending.size else samples
        whole = audio.shape[0] // FRAME * FRAME
        self._pending = audio[whole:].copy()
        if whole == 0:
            return np.zeros(0, dtype=np.float32)
        frames = audio[:whole].reshape(-1, FRAME).astype(np.float32, copy=False)
        contexts = np.concatenate([self._context[None, :], frames[:-1, -CONTEXT:]], axis=0)
        self._context = frames[-1, -CONTEXT:].copy()
        batch = np.concatenate([contexts, frames], axis=1)
        probs, self._h, self._c = self._session.run(
            None, {"input": batch, "h": self._h, "c": self._c}
        )
        return probs.reshape(-1).astype(np.float32)
