"""Apertium: rule-based translation from Debian's language-pair packages (the embedded default).

The installed pairs are discovered from the mode files (``/usr/share/apertium/modes``). Each
direction gets one long-lived :class:`Pipeline`, started on first use (or ahead with
:meth:`ApertiumEngine.start`), which answers in milliseconds.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from parley.errors import EngineUnavailable, UnsupportedLanguage
from parley.logs import get_logger
from services.translate.engines.apertium_format import END, escape, tidy, unescape
from services.translate.engines.apertium_pipeline import Pipeline
from services.translate.engines.base import Engine
from services.translate.languages import Pair, is_code, normalize, pair_name

log = get_logger(__name__)

MODES_DIR = "/usr/share/apertium/modes"
# $1 of a mode is the generator's option: -n leaves unknown words unmarked (-g would prefix
# them with *); $2 is the tagger's option, none here.
_MODE_ARGS = {"$1": "-n", "$2": ""}
_SHELL = frozenset({";", "&", "&&", "||", ">", "<", "2>"})
_TOOLS = ("lt-proc", "apertium-wblank-mode")


@dataclass(frozen=True)
class Mode:
    """An installed translation direction.

    Attributes:
        name: mode name, for example ``eng-spa``.
        path: the mode file, a shell pipeline of the stages.
        package: the Debian package holding the data, for example ``apertium-eng-spa``.
    """

    name: str
    path: Path
    package: str


def discover(modes_dir: str | Path = MODES_DIR) -> dict[Pair, Mode]:
    """The installed directions, by (source, target) ISO 639-1 pair.

    Only plain ``src-tgt`` modes are taken: variants (``eng-cat_valencia``), development modes
    (``eco-es-fr``) and pairs already found under another spelling are skipped.
    """
    directory = Path(modes_dir)
    if not directory.is_dir():
        return {}
    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if missing:
        log.warning("apertium tools missing; apertium disabled", missing=missing)
        return {}
    found: dict[Pair, Mode] = {}
    for path in sorted(directory.glob("*.mode")):
        parts = path.stem.split("-")
        if len(parts) != 2 or any("_" in part for part in parts):
            continue
        pair = (normalize(parts[0]), normalize(parts[1]))
        if not all(is_code(code) for code in pair) or pair[0] == pair[1] or pair in found:
            continue
        found[pair] = Mode(path.stem, path, _package(path))
    return found


def _package(path: Path) -> str:
    match = re.search(r"/(apertium-[\w.+-]+)/", path.read_text(errors="replace"))
    return match.group(1) if match else f"apertium {path.stem}"


def null_flush_stages(mode: Path) -> list[list[str]]:
    """The mode's stages in null-flush mode, as one command line per stage.

    ``apertium -z`` is not enough: its deformatter holds the NUL until the end of input.
    ``apertium-wblank-mode -z`` prints the stages with ``-z`` added, as a shell pipeline of
    plain commands whose only parameters are ``$1`` and ``$2``.

    Raises:
        EngineUnavailable: if ``apertium-wblank-mode`` fails or prints something else.
    """
    try:
        result = subprocess.run(
            ["apertium-wblank-mode", "-z", str(mode)],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        stages = [shlex.split(stage) for stage in result.stdout.strip().split("|")]
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        raise EngineUnavailable(f"cannot read apertium mode {mode}: {exc}") from exc
    out = [
        [_MODE_ARGS.get(arg, arg) for arg in stage if _MODE_ARGS.get(arg, arg)] for stage in stages
    ]
    if not all(out) or any(arg.startswith("$") or arg in _SHELL for stage in out for arg in stage):
        raise EngineUnavailable(f"apertium mode {mode} is not a plain pipeline: {result.stdout}")
    return out


class ApertiumEngine(Engine):
    """Translates through one long-lived pipeline per direction.

    Args:
        modes: the installed directions (see :func:`discover`).
        timeout_s: longest wait for a pipeline's answer (see :class:`Pipeline`).
    """

    name = "apertium"

    def __init__(self, modes: Mapping[Pair, Mode], timeout_s: float = 10.0) -> None:
        self._modes = dict(modes)
        self._timeout_s = timeout_s
        self._pipelines: dict[Pair, Pipeline] = {}
        self._lock = threading.Lock()

    def pairs(self) -> dict[Pair, str]:
        return {pair: mode.package for pair, mode in self._modes.items()}

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        pipeline = self.pipeline((source, target))
        units = [(escape(text) + END).encode("utf-8", "replace") for text in texts]
        answers = pipeline.exchange(units)
        return [
            tidy(text, unescape(answer.decode("utf-8", "replace")))
            for text, answer in zip(texts, answers, strict=True)
        ]

    def pipeline(self, pair: Pair) -> Pipeline:
        """The pipeline of a direction, created (not yet started) on first request.

        Raises:
            UnsupportedLanguage: if the direction is not installed.
        """
        with self._lock:
            existing = self._pipelines.get(pair)
            if existing is not None:
                return existing
            mode = self._modes.get(pair)
            if mode is None:
                raise UnsupportedLanguage(f"apertium has no {pair_name(pair)} pair installed")
        stages = null_flush_stages(mode.path)
        with self._lock:
            return self._pipelines.setdefault(pair, Pipeline(mode.name, stages, self._timeout_s))

    def start(self, pairs: Sequence[Pair] = ()) -> None:
        for pair in pairs:
            if pair in self._modes:
                self.pipeline(pair).start()

    def close(self) -> None:
        with self._lock:
            pipelines = list(self._pipelines.values())
        for pipeline in pipelines:
            pipeline.close()
