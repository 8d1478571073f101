"""Coqui TTS (the ``coqui-tts`` package): a local checkpoint and its config.json.

An optional extra: torch and Coqui are imported, and the model loaded, only when the voice is
first used. No Coqui voice ships in any package, so the engine is enabled only when a
checkpoint is configured. Coqui models are not thread-safe: one synthesis runs at a time.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from parley.errors import EngineUnavailable, InvalidInput
from parley.logs import get_logger
from services.tts.engines.base import (
    Engine,
    Quality,
    SynthesisOptions,
    Voice,
    normalize_language,
)

log = get_logger(__name__)

# Coqui configs name languages in several places, depending on the model family.
_LANGUAGE_KEYS = ("phoneme_language", "language")


def _config_language(config: dict) -> str:
    for key in _LANGUAGE_KEYS:
        if isinstance(config.get(key), str) and config[key]:
            return config[key]
    for dataset in config.get("datasets") or []:
        if isinstance(dataset, dict) and dataset.get("language"):
            return dataset["language"]
    return ""


class CoquiEngine(Engine):
    """One Coqui TTS model loaded from a local checkpoint."""

    name = "coqui"

    def __init__(self, checkpoint: str, config: str = "", language: str = "") -> None:
        self._checkpoint = Path(checkpoint).expanduser() if checkpoint else None
        self._config = Path(config).expanduser() if config else None
        self._language = language
        self._synthesizer = None
        self._lock = threading.Lock()

    def _config_path(self) -> Path:
        assert self._checkpoint is not None
        if self._config is not None:
            return self._config
        folder = self._checkpoint if self._checkpoint.is_dir() else self._checkpoint.parent
        return folder / "config.json"

    def voices(self) -> list[Voice]:
        if self._checkpoint is None:
            raise EngineUnavailable("Coqui TTS is not configured: set PARLEY_TTS_COQUI_CHECKPOINT")
        if importlib.util.find_spec("TTS") is None:
            raise EngineUnavailable("Coqui TTS is not installed: install Parley's coqui extra")
        if not self._checkpoint.exists():
            raise EngineUnavailable(f"Coqui checkpoint {self._checkpoint} does not exist")
        config_path = self._config_path()
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
            audio = config.get("audio", {})
            rate = int(audio.get("output_sample_rate") or audio["sample_rate"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise EngineUnavailable(f"Coqui config {config_path} is unreadable: {exc}") from exc
        language = normalize_language(self._language or _config_language(config) or "en")
        name = config.get("run_name") or self._checkpoint.stem
        return [
            Voice(
                engine=self.name,
                id=str(name),
                languages=(language,),
                sample_rate=rate,
                quality=Quality.NEURAL,
                description=f"Coqui TTS {config.get('model', 'model')} from {self._checkpoint}",
            )
        ]

    def _load(self):
        """The Synthesizer, loaded on first use (the caller holds the lock)."""
        if self._synthesizer is not None:
            return self._synthesizer
        assert self._checkpoint is not None
        try:
            from TTS.utils.synthesizer import Synthesizer

            self._synthesizer = Synthesizer(
                tts_checkpoint=str(self._checkpoint),
                tts_config_path=str(self._config_path()),
                use_cuda=False,
            )
        except ImportError as exc:
            raise EngineUnavailable(f"Coqui TTS cannot be imported: {exc}") from exc
        except OSError as exc:  # PyPI's torchaudio is a CUDA build: its extensions cannot load
            raise EngineUnavailable(
                f"Coqui TTS cannot load a native library ({exc}): on a CPU-only machine remove "
                "torchaudio's CUDA extensions (torchaudio/lib/*.so), as the README's set-up does"
            ) from exc
        except Exception as exc:  # torch and Coqui raise many types on a bad checkpoint
            raise EngineUnavailable(f"Coqui could not load {self._checkpoint}: {exc}") from exc
        log.info("Coqui model loaded", checkpoint=str(self._checkpoint))
        return self._synthesizer

    def warm_up(self, voice: Voice) -> None:
        with self._lock:
            self._load()

    def synthesize(
        self, text: str, voice: Voice, options: SynthesisOptions
    ) -> Iterator[np.ndarray]:
        with self._lock:
            synthesizer = self._load()
            model = synthesizer.tts_model
            # VITS-style models scale durations by length_scale; others speak at their rate.
            original = getattr(model, "length_scale", None)
            try:
                if original is not None:
                    model.length_scale = original / options.speaking_rate
                wav = synthesizer.tts(text, split_sentences=False)
            except (ValueError, KeyError) as exc:
                raise InvalidInput(f"Coqui cannot speak this text: {exc}") from exc
            except RuntimeError as exc:
                raise EngineUnavailable(f"Coqui synthesis failed: {exc}") from exc
            finally:
                if original is not None:
                    model.length_scale = original
        yield np.nan_to_num(np.asarray(wav, dtype=np.float32)).clip(-1.0, 1.0)
