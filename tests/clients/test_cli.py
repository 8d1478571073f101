"""The `parley` CLI against a live `parley serve`, as a person would use it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess

import numpy as np
import pytest
import soundfile

from tests.conftest import ROOT, start_process, tool
from tests.speech import silence, speak, write_wav

HELLO = "Good morning, how are you today?"
KEY = "cli-test-key-0123456789abcdef"
# The CLI reads its key from the environment, as a person would set it once.
CLIENT_ENV = {**os.environ, "PARLEY_API_KEY": KEY}


@pytest.fixture(scope="module")
def server():
    """``parley serve`` as deployed: API keys required."""
    env = {"PARLEY_STT_PRELOAD": "start", "PARLEY_AUTH": "required", "PARLEY_API_KEYS": KEY}
    process = start_process([tool("parley"), "serve"], env=env)
    yield process
    process.process.terminate()
    process.process.wait(timeout=30)


def parley(server, *args: str, timeout: float = 120, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [tool("parley"), *args, "--address", server.address],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or CLIENT_ENV,
    )


def test_say_then_transcribe(server, tmp_path):
    out = tmp_path / "hola.wav"
    said = parley(
        server, "say", "Buenos días a todos, bienvenidos.", "--lang", "es", "-o", str(out)
    )
    assert said.returncode == 0, said.stderr
    assert "voice pico:es-ES" in said.stdout
    info = soundfile.info(str(out))
    assert 1.5 < info.duration < 6
    heard = parley(server, "transcribe", str(out), "--language", "es")
    assert heard.returncode == 0, heard.stderr
    assert "(es)" in heard.stdout and "buen" in heard.stdout.lower()


def test_opus_and_flac_files_are_sent_as_they_are(server, tmp_path):
    from tests.encoded import encode

    speech = np.concatenate([speak(HELLO, "en"), silence(0.5)])
    for suffix, encoding in ((".ogg", "ogg_opus"), (".webm", "webm_opus"), (".flac", "flac")):
        path = tmp_path / f"hello{suffix}"
        path.write_bytes(encode(speech, encoding))
        heard = parley(server, "transcribe", str(path), "--language", "en")
        assert heard.returncode == 0, heard.stderr
        assert "good morning" in heard.stdout.lower(), heard.stdout


def test_translate_voices_and_languages(server):
    result = parley(server, "translate", HELLO, "--from", "en", "--to", "es,fr")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert (
        lines[0].startswith("es: Buen día") and "[en>pt (bergamot) > pt>es (apertium)]" in lines[0]
    )
    assert lines[1].startswith("fr: Bonjour") and "es>fr" in lines[1]
    voices = parley(server, "voices", "--lang", "es")
    assert "pico:es-ES" in voices.stdout
    pairs = parley(server, "languages", "--from", "en")
    assert "en>fr   en>es (apertium) > es>fr (apertium)" in pairs.stdout


def test_the_languages_page_is_what_the_server_says(server):
    table = parley(server, "languages", "--table")
    assert table.returncode == 0, table.stderr
    assert "| en | whisper-base, whisper-tiny.en | " in table.stdout
    assert "pt (bergamot, neural, chrF " in table.stdout
    page = (ROOT / "docs" / "languages.md").read_text()
    assert table.stdout in page, "docs/languages.md is stale: regenerate it with the command"


def two_in_a_room(server, room, common, listener_args, speaker_args, while_listening=None):
    """Luis joins ``room`` and waits; Ana speaks. Returns Ana's finished run, Luis's process and
    what Luis printed: he must leave on his own (``--expect``)."""
    base = [tool("parley"), "room", "join", room, "--address", server.address, *common]
    listener = subprocess.Popen(
        [*base, *listener_args], stdout=subprocess.PIPE, text=True, env=CLIENT_ENV
    )
    try:
        assert f"] joined room {room} as " in listener.stdout.readline()
        if while_listening is not None:
            while_listening()
        speaker = subprocess.run(
            [*base, *speaker_args], capture_output=True, text=True, timeout=120, env=CLIENT_ENV
        )
        assert speaker.returncode == 0, speaker.stderr
        out = listener.communicate(timeout=60)[0]
    finally:
        listener.kill()
    return speaker, listener, out


def test_rooms_from_the_command_line(server, tmp_path):
    created = parley(server, "room", "create", "--id", "cli-room", "--name", "From the CLI")
    assert created.returncode == 0 and "room cli-room created" in created.stdout
    token = created.stdout.split("join token ")[1].strip()
    talk = tmp_path / "talk.wav"
    write_wav(talk, [silence(0.5), speak(HELLO, "en"), silence(1.0)])
    heard = tmp_path / "heard"

    def listed() -> None:
        rooms = parley(server, "room", "list")
        assert "cli-room" in rooms.stdout and "Luis (?>es)" in rooms.stdout

    speaker, listener, out = two_in_a_room(
        server, "cli-room", ["--token", token],
        ["--name", "Luis", "--listen", "es", "--output", str(heard), "--expect", "1"],
        ["--name", "Ana", "--speak", "en", "--listen", "en", "--input", str(talk), "--interim",
         "--wait", "3"],
        while_listening=listed,
    )  # fmt: skip
    assert "Ana (en>en): Good morning" in speaker.stdout
    assert "Ana (en) ...Good" in speaker.stdout  # a partial caption (--interim)
    assert listener.returncode == 0 and "Ana (en>es): Buen día" in out
    assert "Ana (en) ..." not in out  # no partials without --interim
    (saved,) = heard.glob("*.wav")
    assert f"saved {saved}" in out
    stamps = [float(line[1:].split("s]")[0]) for line in out.splitlines()]
    assert stamps == sorted(stamps) and stamps[-1] > 1.0  # seconds since the command started
    assert soundfile.info(str(saved)).duration > 1.0
    intruder = parley(server, "room", "join", "cli-room", "--listen", "es", "--wait", "1")
    assert intruder.returncode == 1 and "PERMISSION_DENIED" in intruder.stderr
    assert "(give the room's token with --token)" in intruder.stderr
    nowhere = parley(server, "room", "join", "no-such-room", "--listen", "es", "--wait", "1")
    assert nowhere.returncode == 1 and "NOT_FOUND" in nowhere.stderr
    assert "parley room create --id ROOM' or join with --create" in nowhere.stderr


def test_a_room_in_opus_both_ways(server, tmp_path):
    """Ana's WebM Opus recording goes as it is; Luis keeps each utterance as Ogg Opus."""
    from tests.encoded import encode, ogg_opus_speech
    from tests.speech import pcm16, transcribe

    talk = tmp_path / "talk.webm"
    talk.write_bytes(encode(np.concatenate([silence(0.5), speak(HELLO, "en"), silence(1.0)]),
                            "webm_opus"))  # fmt: skip
    heard = tmp_path / "heard"
    speaker, _, out = two_in_a_room(
        server, "cli-opus", ["--create"],
        ["--name", "Luis", "--listen", "es", "--output", str(heard), "--output-format", "opus",
         "--expect", "1"],
        ["--name", "Ana", "--speak", "en", "--listen", "en", "--input", str(talk), "--wait", "3"],
    )  # fmt: skip
    assert "sent as it is" in speaker.stdout and "Ana (en>en): Good morning" in speaker.stdout
    (saved,) = heard.glob("*.ogg")
    assert f"saved {saved}" in out
    pcm = pcm16(ogg_opus_speech(saved.read_bytes()))
    said = asyncio.run(transcribe(server.address, pcm, "es", api_key=KEY))
    assert "buen" in said.lower(), said


def test_a_missing_key_is_one_clear_line(server):
    keyless = {k: v for k, v in os.environ.items() if k != "PARLEY_API_KEY"}
    result = parley(server, "voices", "--lang", "es", env=keyless)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: UNAUTHENTICATED: missing API key"), result.stderr


def test_errors_are_one_clear_line(server, tmp_path):
    bad = parley(server, "translate", "hello", "--from", "en", "--to", "xx")
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: INVALID_ARGUMENT:") and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    clip = tmp_path / "hello.wav"
    write_wav(clip, [speak(HELLO, "en")])
    for _ in range(3):  # it used to be INTERNAL about half the time
        unknown = parley(server, "transcribe", str(clip), "--model", "nope")
        assert unknown.returncode == 1, unknown.stderr
        assert unknown.stderr.startswith("error: INVALID_ARGUMENT:"), unknown.stderr
    missing = parley(server, "transcribe", str(tmp_path / "nope.wav"))
    assert missing.returncode == 1 and missing.stderr.startswith("error: no such file: ")
    assert "Traceback" not in missing.stderr
    down = subprocess.run(
        [tool("parley"), "voices", "--address", "127.0.0.1:9", "--timeout", "3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert down.returncode == 1 and down.stderr.startswith("error: UNAVAILABLE")
    assert "is a Parley server running there? (--address)" in down.stderr
    demo = subprocess.run(
        [tool("parley"), "demo", "--address", "127.0.0.1:9", "--timeout", "3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert demo.returncode == 1 and demo.stderr.startswith("error: UNAVAILABLE"), demo.stderr
    assert "Traceback" not in demo.stderr and len(demo.stderr.strip().splitlines()) == 1
    unsaid = parley(server, "translate", "Buenos días", "--to", "en")
    assert unsaid.returncode == 2 and "--from" in unsaid.stderr  # no silent default language


def test_a_reader_that_goes_away_is_not_an_error(server):
    # `true` reads nothing and exits at once: every write the command makes hits a closed pipe.
    gone = subprocess.run(
        f"{tool('parley')} languages --address {server.address} | true; echo ${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=60,
        env=CLIENT_ENV,
    )
    assert gone.stderr == "" and gone.stdout.strip() == "0", (gone.stdout, gone.stderr)


def test_a_listener_leaves_after_wait_seconds(server):
    result = parley(
        server, "room", "join", "timed", "--create", "--listen", "es", "--wait-seconds", "1.5"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "] joined room timed as " in lines[0] and "alone so far" in lines[0]
    assert lines[-1].endswith("] 1.5 s passed (--wait-seconds)")


def test_ctrl_c_leaves_a_room_with_one_line(server):
    listener = subprocess.Popen(
        [tool("parley"), "room", "join", "ctrl-c", "--create", "--listen", "es", "--address",
         server.address],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=CLIENT_ENV,
    )  # fmt: skip
    try:
        assert "] joined room ctrl-c as " in listener.stdout.readline()
        listener.send_signal(signal.SIGINT)
        _, stderr = listener.communicate(timeout=30)
    finally:
        listener.kill()
    assert listener.returncode == 130 and stderr == "interrupted\n", stderr
