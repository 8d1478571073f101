"""PARLEY_STT_WORKERS: how many recognitions one model runs at once, with real speech."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from services.stt.config import SttConfig
from services.stt.engine import RecognitionOptions
from services.stt.registry import ModelRegistry
from tests.speech import speak, wer

MODEL = "whisper-tiny.en"
TEXTS = [
    "The weather is lovely today, so we will walk to the park.",
    "Please send me the report before the meeting on Friday.",
]


@pytest.mark.parametrize("workers", [1, 2])
async def test_workers_bound_the_recognitions_running_at_once(workers):
    registry = ModelRegistry(
        SttConfig(default_model=MODEL, workers=workers, cpu_threads=1, preload="lazy"),
        environ={},
    )
    engine = registry.get(MODEL)
    assert engine.concurrency == workers
    spans: list[tuple[float, float]] = []
    lock = threading.Lock()
    transcribe = engine.transcribe

    def timed(audio, options):
        started = time.perf_counter()
        try:
            return transcribe(audio, options)
        finally:
            with lock:
                spans.append((started, time.perf_counter()))

    engine.transcribe = timed
    try:
        await registry.load(MODEL)
        options = RecognitionOptions(language="en")
        results = await asyncio.gather(
            *(registry.recognize(MODEL, speak(text, "en"), options) for text in TEXTS)
        )
    finally:
        await registry.close()
    for text, result in zip(TEXTS, results, strict=True):
        assert wer(text, result.value.text) <= 0.2, result.value.text
    (a0, a1), (b0, b1) = sorted(spans)
    overlapped = b0 < a1
    assert overlapped == (workers == 2), spans
