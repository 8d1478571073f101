"""The models a server offers, built once from configuration, each with its inference queue."""

from __future__ import annotations

import asyncio
import os

import numpy as np

from parley.errors import InvalidInput, quoted
from parley.logs import get_logger
from services.stt.config import SttConfig
from services.stt.engine import ModelDescription, RecognitionOptions, Recognizer, Transcript
from services.stt.models import BUILTIN, default_cache_dir, parse_model_list
from services.stt.scheduler import InferenceQueue, Timed
from services.stt.whisper import WhisperRecognizer
from services.stt.window import WindowPolicy

log = get_logger(__name__)


class ModelRegistry:
    """Named recognisers and the queues that run them.

    Raises:
        InvalidInput: from the constructor if the default model is not among the models.
    """

    def __init__(self, config: SttConfig, environ: dict[str, str] | None = None) -> None:
        environ = dict(os.environ) if environ is None else environ
        cache = default_cache_dir(config.cache_dir)
        window = WindowPolicy(config.window, config.window_margin_ms, config.window_min_ms)
        self._engines: dict[str, Recognizer] = {}
        for source in (*BUILTIN, *parse_model_list(config.models)):
            self._engines[source.name] = WhisperRecognizer(
                source, cache, config.device, config.compute_type, config.cpu_threads,
                config.beam_size, config.workers, window,
            )  # fmt: skip
        if environ.get("OPENAI_API_KEY"):
            from services.stt.openai_api import OpenAIRecognizer

            engine = OpenAIRecognizer(
                environ["OPENAI_API_KEY"], config.openai_model, config.openai_base_url
            )
            self._engines[engine.description.name] = engine
        if config.default_model not in self._engines:
            raise InvalidInput(
                f"default model {config.default_model!r} is not one of {', '.join(self._engines)}"
            )
        self.default = config.default_model
        self._queues = {
            name: InferenceQueue(name, getattr(engine, "concurrency", 1))
            for name, engine in self._engines.items()
        }

    def get(self, name: str) -> Recognizer:
        """The recogniser called ``name`` (empty: the default).

        Raises:
            InvalidInput: naming the models available.
        """
        engine = self._engines.get(name or self.default)
        if engine is None:
            raise InvalidInput(
                f"unknown model {quoted(name)}; available: {', '.join(self._engines)}"
            )
        return engine

    def describe(self) -> list[tuple[ModelDescription, bool]]:
        """(description, loaded) of every model."""
        return [(e.description, e.loaded) for e in self._engines.values()]

    def submit(
        self,
        model: str,
        audio: np.ndarray,
        options: RecognitionOptions,
        partial_key: object | None = None,
        batch: bool = False,
    ) -> asyncio.Future[Timed]:
        """Queues a recognition; the future's value is a Timed Transcript. ``batch`` work (a
        whole file) waits behind every live stream's."""
        engine = self.get(model)
        return self._queues[model or self.default].submit(
            lambda: engine.transcribe(audio, options), partial_key=partial_key, batch=batch
        )

    def cancel_partial(self, model: str, partial_key: object) -> None:
        """Drops a waiting partial recognition."""
        self._queues[model or self.default].cancel_partial(partial_key)

    async def recognize(
        self, model: str, audio: np.ndarray, options: RecognitionOptions, batch: bool = False
    ) -> Timed:
        """Recognises one utterance as a final result."""
        return await self.submit(model, audio, options, batch=batch)

    async def load(self, model: str = "") -> None:
        """Loads a model in a worker thread (the default one when empty)."""
        await asyncio.to_thread(self.get(model).load)

    async def close(self) -> None:
        """Stops every queue and closes API clients."""
        await asyncio.gather(*(q.close() for q in self._queues.values()))
        for engine in self._engines.values():
            close = getattr(engine, "close", None)
            if close:
                close()


__all__ = ["ModelRegistry", "Transcript"]
