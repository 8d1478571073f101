"""Voice ranking and selection: defaults by quality, regions, engines, speaker keys."""

from __future__ import annotations

import pytest

from parley.errors import EngineUnavailable, InvalidInput, UnsupportedLanguage
from services.tts.engines.base import (
    Engine,
    Gender,
    Quality,
    Voice,
    normalize_language,
    primary_language,
)
from services.tts.engines.espeak import EspeakEngine
from services.tts.engines.pico import PicoEngine
from services.tts.engines.piper import PiperEngine
from services.tts.voices import VoiceRegistry


class Listed(Engine):
    """Only lists voices: these tests are about choosing among them, not speaking."""

    def __init__(self, name: str, voices: list[Voice] | Exception) -> None:
        self.name = name
        self._voices = voices

    def voices(self) -> list[Voice]:
        if isinstance(self._voices, Exception):
            raise self._voices
        return self._voices

    def synthesize(self, text, voice, options):
        raise NotImplementedError


def voice(engine: str, id: str, languages: tuple[str, ...], quality: Quality) -> Voice:
    return Voice(engine, id, languages, 16_000, Gender.UNSPECIFIED, quality)


@pytest.fixture(scope="module")
def real() -> VoiceRegistry:
    """The voices of the engines installed here, in the default preference order."""
    return VoiceRegistry.discover([PiperEngine(), PicoEngine(), EspeakEngine()])


def test_language_tags_are_normalised():
    assert normalize_language("en_us") == "en-US"
    assert normalize_language("EN-gb-x-RP") == "en-GB-x-rp"
    assert normalize_language("cmn-latn-pinyin") == "cmn-Latn-pinyin"
    assert normalize_language("es-419") == "es-419"
    assert primary_language("pt_BR") == "pt"


def test_defaults_are_neural_then_pico_then_espeak(real):
    assert real.select("en").name == "piper:en_US-joe-medium"
    for language, pico in {"es": "es-ES", "fr": "fr-FR", "de": "de-DE", "it": "it-IT"}.items():
        assert real.select(language).name == f"pico:{pico}"
    assert real.select("pt").engine == "espeak-ng"
    assert real.select("zh").name.startswith("espeak-ng:cmn")
    assert real.select("ES").name == "pico:es-ES", "codes are case-insensitive"


def test_the_region_asked_for_comes_first(real):
    assert real.select("en-GB").name == "pico:en-GB"
    assert real.select("en-US").name == "piper:en_US-joe-medium"
    assert real.select("es-419").name == "espeak-ng:es-419"
    assert real.select("en-AU").name == "piper:en_US-joe-medium", "no en-AU: best English"


def test_defaults_are_reported_per_voice(real):
    assert real.default_languages(real.select("en")) == ["en"]
    assert "es" in real.default_languages(real.select("es"))
    assert real.default_languages(real.select("en", voice="pico:en-GB")) == []


def test_equal_quality_follows_the_engine_preference():
    piper = Listed("piper", [voice("piper", "a", ("en-US",), Quality.NEURAL)])
    coqui = Listed("coqui", [voice("coqui", "b", ("en",), Quality.NEURAL)])
    pico = Listed("pico", [voice("pico", "en-US", ("en-US",), Quality.STANDARD)])
    assert VoiceRegistry.discover([piper, coqui, pico]).select("en").name == "piper:a"
    assert VoiceRegistry.discover([coqui, piper, pico]).select("en").name == "coqui:b"
    assert VoiceRegistry.discover([pico, coqui]).select("en").name == "coqui:b", "quality first"


def test_an_engine_that_cannot_run_is_left_out():
    broken = Listed("elevenlabs", EngineUnavailable("no key"))
    crashing = Listed("coqui", RuntimeError("bad checkpoint"))
    pico = Listed("pico", [voice("pico", "es-ES", ("es-ES",), Quality.STANDARD)])
    registry = VoiceRegistry.discover([broken, crashing, pico])
    assert registry.engine_names == ["pico"]
    with pytest.raises(InvalidInput, match="elevenlabs.*available: pico"):
        registry.select("es", engine="elevenlabs")


def test_no_engine_at_all_is_unavailable():
    registry = VoiceRegistry.discover([Listed("pico", EngineUnavailable("not installed"))])
    with pytest.raises(EngineUnavailable, match="no text-to-speech engine"):
        registry.select("en")


def test_speakers_share_the_best_voices_at_different_pitches(real):
    keys = [f"speaker-{i}" for i in range(40)]
    spanish = [real.select_variant("es", speaker_key=key) for key in keys]
    # Spanish's best voice is Pico: every speaker gets it, at four pitches; never espeak-ng.
    assert {voice.name for voice, _ in spanish} == {"pico:es-ES"}
    assert {pitch for _, pitch in spanish} == {1.0, 1.1, 0.91, 1.2}
    assert [real.select_variant("es", speaker_key=key) for key in keys] == spanish
    english = {real.select_variant("en", speaker_key=key) for key in keys}
    assert {voice.name for voice, _ in english} == {"piper:en_US-joe-medium"}
    assert len(english) == 4
    # The same key gets the same variant in every process (no salted hash).
    assert real.select_variant("es", speaker_key="alice") == (real.select("es"), 1.2)
    assert real.select_variant("es", voice="pico:es-ES", speaker_key="alice")[1] == 1.0


def test_a_large_best_tier_is_used_whole():
    voices = [voice("espeak-ng", f"de+v{i}", ("de",), Quality.FORMANT) for i in range(8)]
    registry = VoiceRegistry([(Listed("espeak-ng", voices), voices)], speaker_voices=2)
    chosen = {registry.select("de", speaker_key=f"k{i}").name for i in range(80)}
    assert len(chosen) == 8


def test_named_voices_and_errors_name_what_is_available(real):
    assert real.select("", voice="ESPEAK-NG:de+F3").name == "espeak-ng:de+f3"
    with pytest.raises(InvalidInput, match="voices for es: pico:es-ES, espeak-ng:es"):
        real.select("es", voice="pico:es-MX")
    with pytest.raises(InvalidInput, match="ListVoices"):
        real.select("", voice="nobody")
    with pytest.raises(InvalidInput, match="speaks de-DE, not 'fr'"):
        real.select("fr", voice="pico:de-DE")
    with pytest.raises(InvalidInput, match="belongs to engine pico, not espeak-ng"):
        real.select("de", voice="pico:de-DE", engine="espeak-ng")
    with pytest.raises(UnsupportedLanguage, match="'tlh'.*languages available: af,"):
        real.select("tlh")
    with pytest.raises(UnsupportedLanguage, match="with engine pico.*de, en, es, fr, it"):
        real.select("pt", engine="pico")
    with pytest.raises(InvalidInput, match="voice.language"):
        real.select("")


def test_listing_orders_by_language_then_rank(real):
    everything = real.voices()
    assert len(everything) > 500
    english = [v.name for v in everything if v.languages[0].startswith("en")]
    assert english[0] == "piper:en_US-joe-medium"
    assert [v.name for v in real.voices("de", engine="pico")] == ["pico:de-DE"]
