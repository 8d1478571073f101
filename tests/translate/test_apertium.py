"""Apertium: installed pairs, real translations, the stream format, pipeline restarts."""

from __future__ import annotations

import os
import signal

import pytest

from parley.errors import EngineUnavailable, UnsupportedLanguage
from services.translate.engines.apertium import ApertiumEngine, discover, null_flush_stages
from services.translate.engines.apertium_format import escape, tidy, unescape
from services.translate.engines.apertium_pipeline import Pipeline

REQUIRED = {("en", "es"), ("es", "en"), ("es", "fr"), ("fr", "es"), ("en", "ca"), ("ca", "en")}
REQUIRED |= {("es", "it"), ("it", "es"), ("es", "pt"), ("pt", "es")}


def test_installed_pairs_are_discovered_with_their_packages():
    modes = discover()
    assert REQUIRED <= set(modes)
    assert modes[("en", "es")].package == "apertium-eng-spa"
    assert modes[("es", "fr")].package == "apertium-fr-es"
    # variants (eng-cat_valencia) and development modes (eco-es-fr) are not pairs of their own
    assert all(len(mode.name.split("-")) == 2 and "_" not in mode.name for mode in modes.values())


def test_missing_modes_folder_means_no_pairs(tmp_path):
    assert discover(tmp_path / "nowhere") == {}


@pytest.mark.parametrize(
    ("pair", "text", "words"),
    [
        (("en", "es"), "Good morning, how are you today?", ["buenos días", "hoy"]),
        (("en", "es"), "The cat is on the table.", ["gato", "mesa"]),
        (("es", "en"), "El perro come pan en la casa.", ["dog", "bread", "house"]),
        (("es", "fr"), "La casa es roja.", ["maison", "rouge"]),
        (("fr", "es"), "Le chat mange du poisson.", ["gato", "pescado"]),
        (("en", "ca"), "The house is very big.", ["casa", "molt", "gran"]),
        (("es", "it"), "Buenos días, ¿cómo estás hoy?", ["buongiorno", "oggi"]),
        (("es", "pt"), "Tengo una casa pequeña.", ["casa", "pequena"]),
    ],
)
def test_real_sentences_translate(apertium, pair, text, words):
    (translated,) = apertium.translate([text], *pair)
    for word in words:
        assert word in translated.lower(), (text, translated)


def test_a_batch_keeps_order_and_count(apertium):
    texts = ["The cat is black.", "The dog is white.", "The house is red."]
    out = apertium.translate(texts, "en", "es")
    assert len(out) == 3
    assert "gato" in out[0] and "perro" in out[1] and "casa" in out[2]


def test_special_characters_newlines_and_spacing_survive(apertium):
    text = "a~b [x] ^y$ @z / \\ <b> {c} 1+1=2 #h *s"
    (translated,) = apertium.translate([text], "es", "pt")
    for fragment in ("~b", "[x]", "$", "@z", "/", "\\", "<b>", "{c}", "1+1=2", "#h", "*s"):
        assert fragment in translated, translated
    (lines,) = apertium.translate(["The cat.\nThe dog.\n\nThe end."], "en", "es")
    assert lines.count("\n") == 3 and "gato" in lines.split("\n")[0]
    (padded,) = apertium.translate(["  The cat.  "], "en", "es")
    assert padded.startswith("  ") and padded.endswith("  ")


def test_a_long_text_goes_through_one_pipeline(apertium):
    text = "The cat is on the table and the dog sleeps in the garden. " * 175
    assert len(text) >= 10_000
    (translated,) = apertium.translate([text], "en", "es")
    assert translated.count("gato") == 175 and translated.count("jardín") == 175


def test_a_pair_that_is_not_installed_is_refused(apertium):
    with pytest.raises(UnsupportedLanguage, match="en>de"):
        apertium.translate(["Hello"], "en", "de")


@pytest.mark.parametrize("which", ["first", "middle", "last"])
def test_a_pipeline_with_a_dead_stage_is_started_again(apertium, which):
    pipeline = apertium.pipeline(("es", "en"))
    apertium.translate(["Hola."], "es", "en")
    starts, pids = pipeline.starts, pipeline.pids
    assert len(pids) > 5  # one process per stage
    victim = {"first": pids[0], "middle": pids[len(pids) // 2], "last": pids[-1]}[which]
    os.kill(victim, signal.SIGKILL)
    (translated,) = apertium.translate(["El perro come pan."], "es", "en")
    assert "dog" in translated
    assert pipeline.starts == starts + 1 and victim not in pipeline.pids


def test_a_silent_pipeline_times_out_and_is_restarted():
    # A stage that reads and never answers stands in for a hung one.
    pipeline = Pipeline("hung", [["sh", "-c", "cat > /dev/null"]], timeout_s=0.3)
    try:
        with pytest.raises(EngineUnavailable, match="did not answer"):
            pipeline.exchange([b"hello"])
        assert pipeline.pids == []  # killed
        with pytest.raises(EngineUnavailable):
            pipeline.exchange([b"again"])
        assert pipeline.starts == 2
    finally:
        pipeline.close()


def test_a_pipeline_that_exits_at_once_is_reported_unavailable():
    pipeline = Pipeline("broken", [["sh", "-c", "exit 3"]], timeout_s=5)
    with pytest.raises(EngineUnavailable, match="keeps dying"):
        pipeline.exchange([b"hello"])
    assert pipeline.starts == 2


def test_large_batches_pass_without_deadlock():
    # 'cat' answers as it reads: a 1 MB batch only passes if writes and reads interleave.
    pipeline = Pipeline("echo", [["cat"], ["cat"]], timeout_s=5)
    units = [b"x" * 10_000 + str(i).encode() for i in range(100)]
    try:
        assert pipeline.exchange(units) == units
    finally:
        pipeline.close()


def test_mode_stages_run_without_a_shell():
    stages = null_flush_stages(discover()[("en", "es")].path)
    assert stages[0][:2] == ["lt-proc", "-z"]
    assert all("-z" in stage for stage in stages if stage[0].startswith(("lt-proc", "apertium-t")))
    assert ["-n"] == [arg for arg in stages[-2] if arg in ("-n", "-g", "$1")]


def test_stream_format_round_trip():
    text = "a~b [x] ^y$ @z / \\ <b> {c}\nnext\r\nline"
    stream = escape(text)
    assert "\n" not in stream.replace("[\n]", "").replace("[\r\n]", "")
    assert unescape(stream) == text
    assert escape("nul\0byte") == "nulbyte"
    assert unescape("Hola[[t:b:123]]mundo[ ][]") == "Holamundo "
    assert tidy("I have", " Tengo ") == "Tengo"
    assert tidy(" I have\n", " Tengo") == " Tengo"


def test_engine_without_pipelines_closes_cleanly():
    engine = ApertiumEngine(discover())
    engine.close()


def test_a_capital_first_letter_survives_a_multiword(apertium):
    (text,) = apertium.translate(["Bom dia, como você está hoje?"], "pt", "es")
    assert text.startswith("Buen"), text  # Apertium alone gives "buen día"
