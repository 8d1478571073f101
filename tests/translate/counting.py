"""An engine that records its calls, for tests about orchestration only (routing, dedup,
caching, fault injection), never to stand in for a real engine's output."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from services.translate.engines.base import Engine


class CountingEngine(Engine):
    """Serves ``pairs``; "translates" by tagging each text with the step it went through.

    Args:
        name: engine name.
        pairs: pairs served, as "en-es" strings.
        error: raised by every call when set (fault injection).
    """

    def __init__(self, name: str, pairs: Iterable[str], error: Exception | None = None):
        self.name = name
        self._pairs = {tuple(p.split("-")): f"{name}-model" for p in pairs}
        self.error = error
        self.calls: list[tuple[str, str, list[str]]] = []
        self._lock = threading.Lock()

    def pairs(self) -> dict:
        return dict(self._pairs)

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        with self._lock:
            self.calls.append((source, target, list(texts)))
        if self.error is not None:
            raise self.error
        return [f"{text}|{source}>{target}" for text in texts]
