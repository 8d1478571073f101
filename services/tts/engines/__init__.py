"""Text-to-speech engines, built from the settings once per process and shared.

Every engine implements :class:`services.tts.engines.base.Engine`; each vendor lives in its own
module. espeak-ng in particular must exist once per process: the library has global state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from services.tts.config import TtsConfig
from services.tts.engines.base import Engine

_BUILT: dict[tuple, Engine] = {}
_LOCK = threading.Lock()


def _piper(config: TtsConfig) -> tuple[tuple, Callable[[], Engine]]:
    from services.tts.engines.piper import PiperEngine

    return (config.piper_folders,), lambda: PiperEngine(config.piper_folders)


def _pico(config: TtsConfig) -> tuple[tuple, Callable[[], Engine]]:
    from services.tts.engines.pico import PicoEngine

    return (config.tts_pico_lang_dir,), lambda: PicoEngine(config.tts_pico_lang_dir)


def _espeak(config: TtsConfig) -> tuple[tuple, Callable[[], Engine]]:
    from services.tts.engines.espeak import EspeakEngine

    return (), EspeakEngine


def _coqui(config: TtsConfig) -> tuple[tuple, Callable[[], Engine]]:
    from services.tts.engines.coqui import CoquiEngine

    args = (config.tts_coqui_checkpoint, config.tts_coqui_config, config.tts_coqui_language)
    return args, lambda: CoquiEngine(*args)


def _elevenlabs(config: TtsConfig) -> tuple[tuple, Callable[[], Engine]]:
    from services.tts.engines.elevenlabs import ElevenLabsEngine

    args = (config.tts_elevenlabs_api_key, config.tts_elevenlabs_url, config.tts_elevenlabs_model)
    return args, lambda: ElevenLabsEngine(*args)


_FACTORIES = {
    "piper": _piper,
    "pico": _pico,
    "espeak-ng": _espeak,
    "coqui": _coqui,
    "elevenlabs": _elevenlabs,
}


def configured(name: str, config: TtsConfig) -> bool:
    """False for an engine that needs a setting the configuration leaves empty (a Coqui
    checkpoint, an ElevenLabs key): such an engine is left out without a warning."""
    if name == "coqui":
        return bool(config.tts_coqui_checkpoint)
    if name == "elevenlabs":
        return bool(config.tts_elevenlabs_api_key)
    return True


def shared(name: str, config: TtsConfig) -> Engine:
    """The process's engine ``name`` for these settings, built on first use.

    Two services with the same engine settings share one engine (and its loaded models).
    """
    args, build = _FACTORIES[name](config)
    key = (name, *args)
    with _LOCK:
        engine = _BUILT.get(key)
        if engine is None:
            engine = _BUILT[key] = build()
        return engine
