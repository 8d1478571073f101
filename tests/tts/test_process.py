"""`python -m services.tts` as a user runs it, driven by grpcurl."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, tool
from tests.tts.conftest import SENTENCES, plausible_seconds

SERVICE = "parley.v1.TextToSpeechService"


def grpcurl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [tool("grpcurl"), "-plaintext", *args], capture_output=True, text=True, timeout=120
    )


def json_messages(text: str) -> list[dict]:
    """grpcurl prints one JSON object per streamed message."""
    decoder, messages, position = json.JSONDecoder(), [], 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        message, position = decoder.raw_decode(text, position)
        messages.append(message)
    return messages


@pytest.fixture(scope="module")
def server():
    from tests.conftest import start_process

    process = start_process([sys.executable, "-m", "services.tts", "--port", "0"], timeout=60)
    yield process
    process.process.kill()
    process.process.wait(timeout=10)
    process.process.stderr.close()


@pytest.mark.parametrize("language", ["en", "es", "fr", "de", "it"])
def test_grpcurl_gets_streamed_speech_in_each_language(server, language):
    request = {
        "text": SENTENCES[language],
        "voice": {"language": language},
        "audioFormat": {"sampleRateHz": 16000},
    }
    result = grpcurl("-d", json.dumps(request), server.address, f"{SERVICE}/StreamingSynthesize")
    assert result.returncode == 0, result.stderr
    messages = json_messages(result.stdout)
    assert len(messages) > 1, "the audio streams in several messages"
    first = messages[0]
    assert first["audio_format"]["sample_rate_hz"] == 16000
    assert first["audio_format"]["encoding"] == "AUDIO_ENCODING_LINEAR16"
    assert language in first["voice"]["default_for_languages"]
    audio = b"".join(base64.b64decode(m.get("audio", "")) for m in messages)
    samples = np.frombuffer(audio, dtype="<i2")
    low, high = plausible_seconds(SENTENCES[language])
    assert low <= samples.shape[0] / 16000 <= high
    assert np.sqrt(np.mean((samples / 32768.0) ** 2)) > 0.02


def test_grpcurl_lists_voices_and_reports_bad_requests(server):
    listed = grpcurl("-d", '{"language": "fr"}', server.address, f"{SERVICE}/ListVoices")
    assert listed.returncode == 0, listed.stderr
    names = [v["name"] for v in json.loads(listed.stdout)["voices"]]
    assert names[0] == "pico:fr-FR" and "espeak-ng:fr+f3" in names

    bad = grpcurl(
        "-d", '{"text": "hi", "voice": {"language": "xx"}}', server.address, f"{SERVICE}/Synthesize"
    )
    assert bad.returncode != 0
    assert "InvalidArgument" in bad.stderr and "languages available" in bad.stderr


def test_settings_are_flags_and_environment_variables():
    helped = subprocess.run(
        [sys.executable, "-m", "services.tts", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert helped.returncode == 0, helped.stderr
    for flag in ("--tts-engines", "--tts-piper-voices", "--tts-max-text-chars", "--tts-threads"):
        assert flag in helped.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "services.tts"],
        cwd=ROOT,
        env={**os.environ, "PARLEY_TTS_ENGINES": "pico,festival"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "PARLEY_TTS_ENGINES" in refused.stdout + refused.stderr
