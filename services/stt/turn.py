"""End-of-turn model: does a pause end what the speaker was saying, or only interrupt it?

Smart Turn v3.2 (Daily, BSD-2-clause) is an 8.7 MB ONNX classifier over Whisper-style log-mel
features of the last 8 s of a turn. It ships inside the ``pipecat-ai`` wheel, which the set-up
installs without its dependencies: only the model file is used, located through the package's
installed metadata (nothing of pipecat is imported), and the features come from faster-whisper's
extractor, which computes the same log-mel spectrogram.
"""

from __future__ import annotations

import importlib.metadata
import threading
from pathlib import Path

import numpy as np

from parley.errors import EngineUnavailable

SAMPLE_RATE = 16_000
SECONDS = 8  # the model sees the last 8 s, zero-padded in front
PACKAGE = "pipecat-ai"
PACKAGED_MODEL = "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"


def packaged_model() -> Path:
    """The Smart Turn model file inside the installed ``pipecat-ai`` wheel.

    Raises:
        EngineUnavailable: if the package or the file is missing.
    """
    try:
        path = Path(str(importlib.metadata.distribution(PACKAGE).locate_file(PACKAGED_MODEL)))
    except importlib.metadata.PackageNotFoundError as exc:
        raise EngineUnavailable(
            "turn detection needs the Smart Turn model of the PyPI package pipecat-ai: "
            "pip install --no-deps pipecat-ai==1.14.0 (the README set-up does)"
        ) from exc
    if not path.is_file():
        raise EngineUnavailable(f"the pipecat-ai package has no {PACKAGED_MODEL}")
    return path


class TurnModel:
    """Smart Turn v3: the probability that a turn is complete. Loads on first use; thread-safe.

    Args:
        path: an ONNX model with the same input (``input_features`` [batch, 80, 800]) and
            output (one probability per item); empty for the packaged v3.2.
    """

    def __init__(self, path: str | Path = "") -> None:
        self._path = Path(path) if path else None
        self._session = None
        self._extractor = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Loads the model (blocking, idempotent)."""
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime
            from faster_whisper.feature_extractor import FeatureExtractor

            options = onnxruntime.SessionOptions()
            options.inter_op_num_threads = 1
            options.intra_op_num_threads = 1
            path = self._path or packaged_model()
            try:
                self._session = onnxruntime.InferenceSession(
                    str(path), options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # onnxruntime raises its own kinds
                raise EngineUnavailable(f"cannot load the turn model {path}: {exc}") from exc
            self._extractor = FeatureExtractor(chunk_length=SECONDS)

    def probability(self, audio: np.ndarray) -> float:
        """How likely the turn whose audio ends with ``audio`` (16 kHz mono) is complete."""
        self.load()
        window = SECONDS * SAMPLE_RATE
        audio = audio[-window:]
        audio = np.pad(audio, (window - audio.shape[0], 0)).astype(np.float32)
        # Zero mean and unit variance, as the model was trained (transformers' do_normalize).
        audio = (audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)
        features = self._extractor(audio, padding=0)[:, : window // 160]
        (output,) = self._session.run(None, {"input_features": features[None]})
        return float(np.asarray(output).reshape(-1)[0])
