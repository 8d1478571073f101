"""CTranslate2: Marian (opus-mt) models converted with its converter, from a local folder.

The folder is the converter's output plus the original model's ``source.spm``, for example::

    ct2-transformers-converter --model opus-mt-en-de --output_dir opus-mt-en-de-ct2 \\
        --copy_files source.spm target.spm

ctranslate2 and sentencepiece are imported on first use only.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from parley.errors import EngineUnavailable, UnsupportedLanguage
from parley.logs import get_logger
from parley.metrics import model_load
from services.translate.engines.base import Engine
from services.translate.engines.sentences import (
    MAX_TOKENS,
    clean,
    output_limit,
    translate_by_sentence,
)
from services.translate.languages import Pair, pair_name

log = get_logger(__name__)

INSTALL_HINT = "pip install 'parley[neural]' (ctranslate2, sentencepiece)"
_EOS = "</s>"
_SPECIAL = frozenset({"</s>", "<s>", "<pad>", "<unk>"})


class Ct2Model:
    """A loaded CTranslate2 translator and its source tokenizer.

    Args:
        folder: converted model folder holding ``model.bin`` and ``source.spm``.
        compute_type: CTranslate2 compute type, for example ``int8``.
        cpu_threads: threads per translation; 0 means every core.
        beam_size: beam width.
    """

    def __init__(self, folder: str, compute_type: str, cpu_threads: int, beam_size: int):
        try:
            import ctranslate2
            import sentencepiece
        except ImportError as exc:
            raise EngineUnavailable(f"the ctranslate2 engine needs {INSTALL_HINT}: {exc}") from exc
        spm = Path(folder) / "source.spm"
        if not spm.is_file():
            raise EngineUnavailable(
                f"{folder} has no source.spm: convert with --copy_files source.spm target.spm"
            )
        try:
            self._tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(spm))
            self._translator = ctranslate2.Translator(
                folder, device="cpu", compute_type=compute_type, intra_threads=cpu_threads
            )
        except Exception as exc:  # a broken folder fails in many ways, all of them "cannot load"
            raise EngineUnavailable(f"cannot load the CTranslate2 model {folder}: {exc}") from exc
        self._beam_size = beam_size

    def generate(self, sentences: list[str]) -> list[str]:
        """Translates a batch of sentences in one call, each output cut at its own length
        limit (see :func:`output_limit`)."""
        tokens = [
            pieces[: MAX_TOKENS - 1] + [_EOS]
            for pieces in self._tokenizer.encode(sentences, out_type=str)
        ]
        limits = [output_limit(len(pieces)) for pieces in tokens]
        results = self._translator.translate_batch(
            tokens, beam_size=self._beam_size, max_decoding_length=max(limits) + 1
        )
        return [
            detokenize(result.hypotheses[0][:limit])
            for result, limit in zip(results, limits, strict=True)
        ]


def detokenize(pieces: Sequence[str]) -> str:
    """Text from SentencePiece pieces, as Marian's tokenizer decodes them."""
    return clean("".join(p for p in pieces if p not in _SPECIAL).replace("\u2581", " "))


class Ct2Engine(Engine):
    """Translates with one converted model per pair.

    Args:
        models: converted model folder per pair; one folder may serve several pairs.
        compute_type: CTranslate2 compute type.
        cpu_threads: threads per translation; 0 means every core.
        beam_size: beam width.
        batch_size: most sentences per call.
    """

    name = "ctranslate2"

    def __init__(
        self,
        models: Mapping[Pair, str],
        compute_type: str = "int8",
        cpu_threads: int = 0,
        beam_size: int = 2,
        batch_size: int = 16,
    ) -> None:
        self._folders = dict(models)
        self._options = (compute_type, cpu_threads, beam_size)
        self._batch_size = batch_size
        self._loaded: dict[str, Ct2Model] = {}
        self._lock = threading.Lock()

    def pairs(self) -> dict[Pair, str]:
        return {pair: Path(folder).name for pair, folder in self._folders.items()}

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        model = self.model((source, target))
        return translate_by_sentence(texts, model.generate, self._batch_size)

    def model(self, pair: Pair) -> Ct2Model:
        """The model of a pair, loaded on first use.

        Raises:
            UnsupportedLanguage: if no model serves the pair.
            EngineUnavailable: if it cannot be loaded.
        """
        folder = self._folders.get(pair)
        if folder is None:
            raise UnsupportedLanguage(f"ctranslate2 has no model for {pair_name(pair)}")
        with self._lock:
            if folder not in self._loaded:
                log.info("loading ctranslate2 model", pair=pair_name(pair), model=folder)
                with model_load("translate", str(folder)):
                    self._loaded[folder] = Ct2Model(folder, *self._options)
            return self._loaded[folder]

    def start(self, pairs: Sequence[Pair] = ()) -> None:
        for pair in pairs:
            if pair in self._folders:
                self.model(pair)

    def close(self) -> None:
        with self._lock:
            self._loaded.clear()
