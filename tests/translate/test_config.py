"""Settings of the translation service: flags, environment, and clear refusals."""

from __future__ import annotations

import argparse

import pytest

from parley.settings import SettingsError, add_arguments, describe, resolve
from services.translate.config import TranslateConfig, model_folders, preload_pairs


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser, TranslateConfig)
    return parser.parse_args(list(argv))


def test_every_setting_is_documented_and_prefixed():
    for flag, env, _default, help_text in describe(TranslateConfig):
        assert flag.startswith("--") and help_text
        assert env.startswith("PARLEY_TRANSLATE_") or env.startswith("DEEPL_API_")


def test_flags_override_environment():
    env = {"PARLEY_TRANSLATE_CACHE_SIZE": "5", "DEEPL_API_URL": "http://127.0.0.1:9"}
    config = resolve(TranslateConfig, parse("--translate-cache-size", "7"), environ=env)
    assert (
        config.translate_cache_size == 7 and config.translate_deepl_api_url == "http://127.0.0.1:9"
    )
    assert resolve(TranslateConfig, parse(), environ={}).translate_max_text_chars == 50_000


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PARLEY_TRANSLATE_ENGINES": "apertium,google"}, "unknown engine 'google'"),
        ({"PARLEY_TRANSLATE_ENGINES": "apertium,apertium"}, "names an engine twice"),
        ({"PARLEY_TRANSLATE_PIVOTS": "es,spanish"}, "'spanish' is not a language code"),
        ({"PARLEY_TRANSLATE_PRELOAD": "en-es,en"}, "'en' is not a language pair"),
        ({"PARLEY_TRANSLATE_MARIAN_MODELS": "en-de"}, "is not pair=folder"),
        ({"PARLEY_TRANSLATE_MARIAN_MODELS": "en-de=/nowhere/x"}, "does not exist"),
        (
            {"PARLEY_TRANSLATE_MAX_STEPS": "0"},
            "PARLEY_TRANSLATE_MAX_STEPS=0 is too small: the least is 1",
        ),
        ({"PARLEY_TRANSLATE_CACHE_SIZE": "-1"}, "PARLEY_TRANSLATE_CACHE_SIZE=-1 is too small"),
    ],
)
def test_bad_values_are_refused(env, message):
    with pytest.raises(SettingsError, match=message):
        resolve(TranslateConfig, parse(), environ=env)


def test_model_folders_and_preload_pairs(tmp_path):
    folders = model_folders(f"en-de={tmp_path}, ENG-fra=Helsinki-NLP/opus-mt-en-fr", "X", True)
    assert folders == {("en", "de"): str(tmp_path), ("en", "fr"): "Helsinki-NLP/opus-mt-en-fr"}
    with pytest.raises(SettingsError, match="does not exist"):
        model_folders("en-fr=Helsinki-NLP/opus-mt-en-fr", "X")  # no hub ids for CTranslate2
    assert preload_pairs("all") is None
    assert preload_pairs("en-es, es-fr") == (("en", "es"), ("es", "fr"))


def test_flags_do_not_clash_with_other_services_in_parley_serve():
    from parley.cli import build_parser

    args = build_parser().parse_args(["serve", "--translate-preload", "en-es"])
    assert getattr(args, "TranslateConfig.translate_preload") == "en-es"
