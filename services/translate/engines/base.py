"""What every translation engine provides: the pairs it serves, and a batch translation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

from services.translate.keep import Placeholders
from services.translate.languages import Pair


class Engine(ABC):
    """One translation engine.

    Engines know nothing of gRPC or asyncio. Their methods block and are called from worker
    threads; they raise :mod:`parley.errors` types (``EngineUnavailable`` when the engine cannot
    run, ``UnsupportedLanguage`` for a pair they do not serve, ``InvalidInput`` for text they
    cannot take).

    Attributes:
        name: engine name used in settings, requests and routes, for example ``apertium``.
    """

    name: str = ""

    @abstractmethod
    def pairs(self) -> Mapping[Pair, str]:
        """Every (source, target) pair served directly, with the model or package serving it
        (an empty string where the engine has no such name). Known from the start: it never
        loads a model."""

    @abstractmethod
    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        """Translates ``texts`` from ``source`` into ``target``, one output per input.

        Texts arrive non-empty and valid; the output keeps their order.
        """

    def translate_keeping(
        self, texts: Sequence[str], source: str, target: str, keep: Sequence[str]
    ) -> list[str]:
        """As :meth:`translate`, with each of ``keep`` (names, terms) left as it is.

        This default swaps each kept term for a placeholder name that neural models copy, and
        swaps it back; engines with a mechanism of their own (markup the engine skips)
        override it.
        """
        if not keep:
            return self.translate(texts, source, target)
        holders = Placeholders(keep)
        out = self.translate([holders.hide(text) for text in texts], source, target)
        return [holders.restore(text) for text in out]

    def start(self, pairs: Sequence[Pair] = ()) -> None:  # noqa: B027 - optional hook
        """Makes ``pairs`` ready ahead of first use (start processes, load models)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Releases processes and models."""
