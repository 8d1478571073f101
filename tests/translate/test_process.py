"""The service as a user starts it, called with grpcurl: the issue's acceptance check."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import tool

REQUEST = {
    "texts": ["Good morning, how are you today?"],
    "source_language": "en",
    "target_languages": ["es", "fr", "it", "pt"],
}


def grpcurl(address: str, method: str, body: dict) -> dict:
    result = subprocess.run(
        [tool("grpcurl"), "-plaintext", "-d", json.dumps(body), address, method],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_grpcurl_translates_into_four_languages_in_one_call(spawn):
    server = spawn(sys.executable, "-m", "services.translate", "--port", "0")
    reply = grpcurl(server.address, "parley.v1.TranslationService/Translate", REQUEST)
    translations = {t["target_language"]: t for t in reply["translations"]}
    assert list(translations) == ["es", "fr", "it", "pt"]
    assert "Buen día" in translations["es"]["text"]
    assert "Bonjour" in translations["fr"]["text"]
    assert "Buongiorno" in translations["it"]["text"]
    assert "hoje" in translations["pt"]["text"]
    assert translations["es"]["route"]["summary"] == "en>pt (bergamot) > pt>es (apertium)"
    assert translations["pt"]["route"]["summary"] == "en>pt (bergamot)"
    for target in ("fr", "it"):
        route = translations[target]["route"]
        assert route["summary"] == f"en>es (apertium) > es>{target} (apertium)"
        assert [s["engine"] for s in route["steps"]] == ["apertium", "apertium"]

    pairs = grpcurl(server.address, "parley.v1.TranslationService/ListLanguagePairs", {})
    en_fr = next(
        p for p in pairs["pairs"] if (p["source_language"], p["target_language"]) == ("en", "fr")
    )
    assert en_fr["route"]["summary"] == "en>es (apertium) > es>fr (apertium)"
    assert "direct" not in en_fr  # false is left out of JSON


def test_settings_come_from_flags_and_environment(spawn):
    server = spawn(
        sys.executable,
        "-m",
        "services.translate",
        "--port",
        "0",
        "--translate-max-text-chars",
        "10",
        env={"PARLEY_TRANSLATE_ENGINES": "apertium"},
    )
    result = subprocess.run(
        [
            tool("grpcurl"),
            "-plaintext",
            "-d",
            json.dumps({**REQUEST, "target_languages": ["es"]}),
            server.address,
            "parley.v1.TranslationService/Translate",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "InvalidArgument" in result.stderr and "the limit is 10" in result.stderr


def test_a_bad_setting_stops_the_start_with_a_clear_error():
    result = subprocess.run(
        [sys.executable, "-m", "services.translate", "--port", "0"],
        env={"PATH": "/usr/bin:/bin", "PARLEY_TRANSLATE_ENGINES": "apertium,babelfish"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown engine 'babelfish'" in result.stdout + result.stderr
