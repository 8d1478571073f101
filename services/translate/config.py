"""Settings of the TranslationService."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from parley.settings import SettingsError, option
from services.translate.languages import Pair, is_code, normalize

ENGINES = ("apertium", "bergamot", "marian", "ctranslate2", "deepl", "llm")
_AT_LEAST_ONE = (
    "translate_max_steps",
    "translate_beam_size",
    "translate_batch_size",
    "translate_max_text_chars",
    "translate_max_request_chars",
    "translate_workers",
    "translate_llm_batch",
)


@dataclass(frozen=True)
class TranslateConfig:
    """Translation: engines, routes, cache and limits."""

    translate_engines: str = field(
        default="deepl,llm,ctranslate2,marian,bergamot,apertium",
        metadata=option(
            "PARLEY_TRANSLATE_ENGINES",
            "engines to use, most preferred first, comma-separated; each is used only where "
            "configured (apertium: installed pairs, bergamot: its packaged en-pt and pt-en or "
            "model folders, marian/ctranslate2: model folders, deepl: API key, llm: server URL "
            "and model); measured route quality decides first where it is known "
            "(PARLEY_TRANSLATE_ROUTE_BY)",
        ),
    )
    translate_pivots: str = field(
        default="es,en",
        metadata=option(
            "PARLEY_TRANSLATE_PIVOTS",
            "languages preferred as the middle of a pivot route, most preferred first; any "
            "other language may still serve as one",
        ),
    )
    translate_route_by: str = field(
        default="quality",
        metadata=option(
            "PARLEY_TRANSLATE_ROUTE_BY",
            "quality: a pair's best-scored route in the measured table wins "
            "(services/translate/route_scores.json, python -m bench.quality); preference: "
            "direct before pivot, then the order of PARLEY_TRANSLATE_ENGINES",
            choices=("quality", "preference"),
        ),
    )
    translate_max_steps: int = field(
        default=2,
        metadata=option(
            "PARLEY_TRANSLATE_MAX_STEPS",
            "most engine steps in a route: 1 is direct only, 2 allows one pivot language",
        ),
    )
    translate_apertium_modes: str = field(
        default="/usr/share/apertium/modes",
        metadata=option(
            "PARLEY_TRANSLATE_APERTIUM_MODES", "folder of the installed Apertium mode files"
        ),
    )
    translate_preload: str = field(
        default="",
        metadata=option(
            "PARLEY_TRANSLATE_PRELOAD",
            "pairs made ready at start (Apertium pipelines started, neural models loaded), "
            "for example en-es,es-fr, or 'all'; the others on first use",
        ),
    )
    translate_apertium_timeout_s: float = field(
        default=10.0,
        metadata=option(
            "PARLEY_TRANSLATE_APERTIUM_TIMEOUT_S",
            "seconds an Apertium pipeline may take to answer, plus as much again per 10,000 "
            "bytes of input, before it is restarted",
        ),
    )
    translate_marian_models: str = field(
        default="",
        metadata=option(
            "PARLEY_TRANSLATE_MARIAN_MODELS",
            "MarianMT models as pair=folder (opus-mt layout) or pair=hub-id, comma-separated, "
            "for example en-de=/models/opus-mt-en-de",
        ),
    )
    translate_ctranslate2_models: str = field(
        default="",
        metadata=option(
            "PARLEY_TRANSLATE_CTRANSLATE2_MODELS",
            "CTranslate2 models as pair=folder, comma-separated; each folder holds a converted "
            "Marian model with its source.spm and target.spm",
        ),
    )
    translate_bergamot_models: str = field(
        default="",
        metadata=option(
            "PARLEY_TRANSLATE_BERGAMOT_MODELS",
            "Bergamot (Firefox Translations tiny) models beyond the packaged en-pt and pt-en, "
            "as pair=folder, comma-separated; a folder holds model.<src><trg>.intgemm.alphas.bin, "
            "its vocab .spm and lex shortlist",
        ),
    )
    translate_compute_type: str = field(
        default="int8",
        metadata=option("PARLEY_TRANSLATE_COMPUTE_TYPE", "CTranslate2 compute type"),
    )
    translate_beam_size: int = field(
        default=2,
        metadata=option("PARLEY_TRANSLATE_BEAM_SIZE", "beam width of the neural engines"),
    )
    translate_batch_size: int = field(
        default=16,
        metadata=option(
            "PARLEY_TRANSLATE_BATCH_SIZE", "most sentences per call of a neural engine"
        ),
    )
    translate_cpu_threads: int = field(
        default=0,
        metadata=option(
            "PARLEY_TRANSLATE_CPU_THREADS", "threads per CTranslate2 model; 0 means every core"
        ),
    )
    translate_deepl_api_key: str = field(
        default="",
        repr=False,
        metadata=option(
            "DEEPL_API_KEY",
            "DeepL API key; the deepl engine is used only when it is set (prefer the "
            "environment: a flag shows in the process list)",
        ),
    )
    translate_deepl_api_url: str = field(
        default="",
        metadata=option(
            "DEEPL_API_URL",
            "DeepL API base URL; empty picks api-free.deepl.com for a key ending in :fx, "
            "else api.deepl.com",
        ),
    )
    translate_deepl_timeout_s: float = field(
        default=10.0,
        metadata=option("PARLEY_TRANSLATE_DEEPL_TIMEOUT_S", "seconds per DeepL HTTP request"),
    )
    translate_llm_url: str = field(
        default="",
        metadata=option(
            "PARLEY_TRANSLATE_LLM_URL",
            "root of an OpenAI-compatible chat API (Ollama: http://127.0.0.1:11434/v1, "
            "llama-server, vLLM, LM Studio, OpenAI); the llm engine is used only when it is set",
        ),
    )
    translate_llm_model: str = field(
        default="",
        metadata=option(
            "PARLEY_TRANSLATE_LLM_MODEL",
            "model the llm engine asks, as the server names it, for example qwen2.5:7b; "
            "required with PARLEY_TRANSLATE_LLM_URL",
        ),
    )
    translate_llm_api_key: str = field(
        default="",
        repr=False,
        metadata=option(
            "PARLEY_TRANSLATE_LLM_API_KEY",
            "key sent to the llm server as a bearer token; empty sends none (prefer the "
            "environment: a flag shows in the process list)",
        ),
    )
    translate_llm_languages: str = field(
        default="en,es,fr,de,it,pt,nl,pl,ru,uk,zh,ja,ko,ar,hi,tr,sv,ca",
        metadata=option(
            "PARLEY_TRANSLATE_LLM_LANGUAGES",
            "languages the llm engine translates between, comma-separated: every ordered pair "
            "of them",
        ),
    )
    translate_llm_timeout_s: float = field(
        default=30.0,
        metadata=option("PARLEY_TRANSLATE_LLM_TIMEOUT_S", "seconds per llm HTTP request"),
    )
    translate_llm_batch: int = field(
        default=16,
        metadata=option("PARLEY_TRANSLATE_LLM_BATCH", "most sentences per llm request"),
    )
    translate_cache_size: int = field(
        default=10_000,
        metadata=option(
            "PARLEY_TRANSLATE_CACHE_SIZE", "recent translations kept in memory; 0 disables"
        ),
    )
    translate_max_text_chars: int = field(
        default=50_000,
        metadata=option("PARLEY_TRANSLATE_MAX_TEXT_CHARS", "longest text accepted, in characters"),
    )
    translate_max_request_chars: int = field(
        default=200_000,
        metadata=option(
            "PARLEY_TRANSLATE_MAX_REQUEST_CHARS",
            "most characters one request may ask to translate: its texts' length times its "
            "target languages",
        ),
    )
    translate_workers: int = field(
        default=4,
        metadata=option(
            "PARLEY_TRANSLATE_WORKERS", "threads running engine calls (directions in parallel)"
        ),
    )

    def __post_init__(self) -> None:
        engine_order(self.translate_engines)
        languages(self.translate_pivots, "PARLEY_TRANSLATE_PIVOTS")
        preload_pairs(self.translate_preload)
        model_folders(self.translate_marian_models, "PARLEY_TRANSLATE_MARIAN_MODELS", hub_ids=True)
        model_folders(self.translate_ctranslate2_models, "PARLEY_TRANSLATE_CTRANSLATE2_MODELS")
        model_folders(self.translate_bergamot_models, "PARLEY_TRANSLATE_BERGAMOT_MODELS")
        for name in _AT_LEAST_ONE:
            _at_least(self, name, 1)
        for name in ("translate_cache_size", "translate_cpu_threads"):
            _at_least(self, name, 0)
        for name in (
            "translate_apertium_timeout_s",
            "translate_deepl_timeout_s",
            "translate_llm_timeout_s",
        ):
            _at_least(self, name, 0.001)
        _check_llm(self)


def _at_least(config: TranslateConfig, name: str, low: float) -> None:
    value = getattr(config, name)
    if value < low:
        env = next(f.metadata["env"] for f in fields(config) if f.name == name)
        raise SettingsError(f"{env}={value} is too small: the least is {low}")


def _check_llm(config: TranslateConfig) -> None:
    """The llm settings: languages always; a model and two languages when a URL is set."""
    codes = set(languages(config.translate_llm_languages, "PARLEY_TRANSLATE_LLM_LANGUAGES"))
    url = config.translate_llm_url.strip()
    if not url:
        return
    if not url.startswith(("http://", "https://")):
        raise SettingsError(
            f"PARLEY_TRANSLATE_LLM_URL={url!r} is not an http:// or https:// URL such as "
            "http://127.0.0.1:11434/v1"
        )
    if not config.translate_llm_model.strip():
        raise SettingsError(
            "PARLEY_TRANSLATE_LLM_MODEL is required with PARLEY_TRANSLATE_LLM_URL: name the "
            "model, for example qwen2.5:7b"
        )
    if len(codes) < 2:
        raise SettingsError("PARLEY_TRANSLATE_LLM_LANGUAGES needs at least two languages")


def _items(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def engine_order(value: str) -> tuple[str, ...]:
    """Engine names from ``PARLEY_TRANSLATE_ENGINES``, most preferred first.

    Raises:
        SettingsError: for an unknown or repeated name.
    """
    names = tuple(item.lower() for item in _items(value))
    for name in names:
        if name not in ENGINES:
            raise SettingsError(
                f"PARLEY_TRANSLATE_ENGINES: unknown engine {name!r}; choose from "
                + ", ".join(ENGINES)
            )
    if len(set(names)) != len(names):
        raise SettingsError(f"PARLEY_TRANSLATE_ENGINES names an engine twice: {value!r}")
    return names


def languages(value: str, env: str) -> tuple[str, ...]:
    """Normalized language codes from a comma-separated setting."""
    codes = tuple(normalize(item) for item in _items(value))
    for code in codes:
        if not is_code(code):
            raise SettingsError(f"{env}: {code!r} is not a language code")
    return codes


def parse_pair(text: str, env: str) -> Pair:
    """A pair from ``en-es``.

    Raises:
        SettingsError: if it is not two different language codes joined by '-'.
    """
    parts = text.strip().split("-")
    pair = (normalize(parts[0]), normalize(parts[-1]))
    if len(parts) != 2 or not all(is_code(code) for code in pair) or pair[0] == pair[1]:
        raise SettingsError(f"{env}: {text!r} is not a language pair such as en-es")
    return pair


def preload_pairs(value: str) -> tuple[Pair, ...] | None:
    """Pairs to make ready at start; None means all."""
    if value.strip().lower() == "all":
        return None
    return tuple(parse_pair(item, "PARLEY_TRANSLATE_PRELOAD") for item in _items(value))


def model_folders(value: str, env: str, hub_ids: bool = False) -> dict[Pair, str]:
    """``pair=folder`` items of a models setting.

    Args:
        value: the setting, for example ``en-de=/models/opus-mt-en-de,de-en=/models/de-en``.
        env: its environment variable, for messages.
        hub_ids: accept a value that is not a folder as a model hub id (``owner/name``).

    Raises:
        SettingsError: for a malformed item or a folder that does not exist.
    """
    folders: dict[Pair, str] = {}
    for item in _items(value):
        pair_text, sep, where = item.partition("=")
        if not sep or not where.strip():
            raise SettingsError(f"{env}: {item!r} is not pair=folder")
        pair = parse_pair(pair_text, env)
        where = where.strip()
        path = Path(where).expanduser()
        looks_like_path = where.startswith(("/", ".", "~")) or where.count("/") != 1
        if not path.is_dir() and (looks_like_path or not hub_ids):
            raise SettingsError(f"{env}: model folder {where!r} for {pair_text} does not exist")
        folders[pair] = str(path) if path.is_dir() else where
    return folders
