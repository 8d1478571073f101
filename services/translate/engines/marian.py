"""MarianMT through transformers: opus-mt models from a local folder (or a hub id online).

transformers and torch are imported on first use only, so a server without Marian models
never loads them. Each model is loaded once and shared; calls to one model are serialized and
batched by sentence.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

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

INSTALL_HINT = "pip install 'parley[neural]' (transformers, sentencepiece, torch)"


class MarianModel:
    """A loaded Marian model and its tokenizer.

    Args:
        where: model folder in opus-mt layout (config.json, model weights, source.spm,
            target.spm, vocab.json) or a hub id.
        beam_size: beam width.
    """

    def __init__(self, where: str, beam_size: int) -> None:
        try:
            import torch
            from transformers import MarianMTModel, MarianTokenizer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise EngineUnavailable(f"the marian engine needs {INSTALL_HINT}: {exc}") from exc
        hf_logging.disable_progress_bar()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "Recommended: pip install sacremoses"
                self._tokenizer = MarianTokenizer.from_pretrained(where)
            self._model = MarianMTModel.from_pretrained(where).eval()
        except Exception as exc:  # a broken folder fails in many ways, all of them "cannot load"
            raise EngineUnavailable(f"cannot load the Marian model {where}: {exc}") from exc
        self._torch = torch
        self._beam_size = beam_size
        self._lock = threading.Lock()

    def generate(self, sentences: list[str]) -> list[str]:
        """Translates a batch of sentences in one generation call.

        Each output is cut at its own length limit (twice its input plus 10 tokens), so what a
        sentence becomes does not depend on the batch it came in.
        """
        with self._lock, self._torch.inference_mode():
            inputs: Any = self._tokenizer(
                sentences,
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
            )
            limits = [output_limit(int(n)) for n in inputs["attention_mask"].sum(dim=1)]
            # One token more than kept: Marian forces </s> at the length limit, which would
            # otherwise replace a sentence's last token only when it is the batch's longest.
            output = self._model.generate(
                **inputs, num_beams=self._beam_size, max_new_tokens=max(limits) + 1
            )
            texts = [  # each row starts with the decoder start token
                self._tokenizer.decode(row[1 : 1 + limit], skip_special_tokens=True)
                for row, limit in zip(output, limits, strict=True)
            ]
        return [clean(text) for text in texts]


class MarianEngine(Engine):
    """Translates with one Marian model per pair.

    Args:
        models: model folder or hub id per pair; one folder may serve several pairs.
        beam_size: beam width.
        batch_size: most sentences per generation call.
    """

    name = "marian"

    def __init__(self, models: Mapping[Pair, str], beam_size: int = 2, batch_size: int = 16):
        self._where = dict(models)
        self._beam_size = beam_size
        self._batch_size = batch_size
        self._loaded: dict[str, MarianModel] = {}
        self._lock = threading.Lock()

    def pairs(self) -> dict[Pair, str]:
        return {pair: Path(where).name for pair, where in self._where.items()}

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        model = self.model((source, target))
        return translate_by_sentence(texts, model.generate, self._batch_size)

    def model(self, pair: Pair) -> MarianModel:
        """The model of a pair, loaded on first use.

        Raises:
            UnsupportedLanguage: if no model serves the pair.
            EngineUnavailable: if it cannot be loaded.
        """
        where = self._where.get(pair)
        if where is None:
            raise UnsupportedLanguage(f"marian has no model for {pair_name(pair)}")
        with self._lock:  # loading twice at once would double the memory for nothing
            if where not in self._loaded:
                log.info("loading marian model", pair=pair_name(pair), model=where)
                with model_load("translate", str(where)):
                    self._loaded[where] = MarianModel(where, self._beam_size)
            return self._loaded[where]

    def start(self, pairs: Sequence[Pair] = ()) -> None:
        for pair in pairs:
            if pair in self._where:
                self.model(pair)

    def close(self) -> None:
        with self._lock:
            self._loaded.clear()
