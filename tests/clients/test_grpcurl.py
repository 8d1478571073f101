"""Every grpcurl recipe of the README, run against a live `parley serve`."""

from __future__ import annotations

import json
import shlex
import subprocess

import pytest

from tests.conftest import ROOT, start_process, tool


def recipes() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- grpcurl recipes -->", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.startswith("grpcurl ")]


EXPECT = {
    "list": "parley.v1.TextToSpeechService",
    "describe": "rpc Join ( stream .parley.v1.JoinRequest )",
    "Health/Check": '"status": "SERVING"',
    "ListModels": '"name": "whisper-tiny.en"',
    "Translate": "en\\u003ept (bergamot)",
    "ListLanguagePairs": '"target_language": "fr"',
    "ListVoices": '"name": "pico:es-ES"',
    "StreamingSynthesize": '"audio": ',
    "CreateRoom": '"room_id": "standup"',
    "ListRooms": '"name": "Daily standup"',
    "ListLanguages": '"translated_from": [',
}


KEY = "grpcurl-test-key-0123456789"


@pytest.fixture(scope="module", params=["as written", "with an API key"])
def server(request):
    """``parley serve`` as `make serve` runs it (no keys), then as a deployment does."""
    keyed = request.param == "with an API key"
    env = {"PARLEY_AUTH": "required", "PARLEY_API_KEYS": KEY} if keyed else {}
    process = start_process([tool("parley"), "serve"], env=env)
    process.headers = ["-H", f"authorization: Bearer {KEY}"] if keyed else []
    yield process
    process.process.terminate()
    process.process.wait(timeout=30)


def test_the_readme_has_a_recipe_for_every_service():
    text = "\n".join(recipes())
    for service in (
        "RoomService",
        "SpeechToTextService",
        "TranslationService",
        "TextToSpeechService",
    ):
        assert f"parley.v1.{service}" in text
    assert len(recipes()) == len(EXPECT)


@pytest.mark.parametrize("recipe", recipes(), ids=lambda r: shlex.split(r)[-1].split("/")[-1])
def test_recipe(server, recipe):
    args = [a.replace("127.0.0.1:50051", server.address) for a in shlex.split(recipe)]
    result = subprocess.run(
        [tool("grpcurl"), *server.headers, *args[1:]], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    key = next(k for k in EXPECT if args[-1].endswith(k) or args[-1] == k or k in args)
    assert EXPECT[key] in result.stdout, result.stdout[:2000]
    if key == "Translate":
        replies = json.loads(result.stdout)["translations"]
        assert [r["target_language"] for r in replies] == ["es", "fr", "it", "pt"]
        assert all(r["route"]["summary"] for r in replies)


def test_without_the_key_a_keyed_server_answers_unauthenticated():
    process = start_process(
        [tool("parley"), "serve"], env={"PARLEY_AUTH": "required", "PARLEY_API_KEYS": KEY}
    )
    try:
        grpcurl = [tool("grpcurl"), "-plaintext"]
        listing = subprocess.run(
            [*grpcurl, process.address, "list"], capture_output=True, text=True, timeout=60
        )
        assert listing.returncode != 0 and "Unauthenticated" in listing.stderr, listing.stderr
        assert "missing API key" in listing.stderr
    finally:
        process.process.terminate()
        process.process.wait(timeout=30)
