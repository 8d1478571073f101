"""Audio helpers for clients: WAV files and numpy arrays to and from 16-bit PCM."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """A sound file as (mono float32 samples in [-1, 1], sample rate)."""
    samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return samples.mean(axis=1, dtype=np.float32), int(rate)


def write_wav(path: str | Path, samples: np.ndarray | bytes, rate: int) -> Path:
    """Writes mono audio (float32 samples or 16-bit PCM bytes) as a 16-bit WAV file."""
    if isinstance(samples, bytes | bytearray):
        samples = from_pcm16(bytes(samples))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), samples, rate, subtype="PCM_16")
    return path


def to_pcm16(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] as signed 16-bit little-endian PCM."""
    return (np.clip(samples, -1.0, 1.0) * 32767).round().astype("<i2").tobytes()


def from_pcm16(data: bytes) -> np.ndarray:
    """Signed 16-bit little-endian PCM as float32 samples in [-1, 1]."""
    usable = len(data) - len(data) % 2
    return np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0


def chunks(samples: np.ndarray, rate: int, chunk_ms: int = 100) -> Iterator[bytes]:
    """16-bit PCM pieces of ``chunk_ms`` milliseconds, for streaming."""
    step = max(1, rate * chunk_ms // 1000)
    for start in range(0, samples.shape[0], step):
        yield to_pcm16(samples[start : start + step])
