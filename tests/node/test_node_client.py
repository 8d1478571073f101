"""The Node.js client (clients/node) against a live `parley serve`: two Node processes in one
room, one speaking English from a WAV, the other hearing it in Spanish and saving the speech."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests.conftest import ROOT, mutual_tls_env, start_process, tool
from tests.speech import pcm16, silence, speak, transcribe

CLIENT = ROOT / "clients" / "node"
HELLO = "Good morning, how are you today?"
KEY = "node-test-key-0123456789abcdef"
# join.js takes the key from PARLEY_API_KEY when --api-key is not given.
NODE_ENV = {**os.environ, "PARLEY_API_KEY": KEY}


@pytest.fixture(scope="module")
def node() -> str:
    """The node binary, with the client's dependencies installed (npm ci) if they are not."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are needed for clients/node: apt-get install nodejs npm")
    if not (CLIENT / "node_modules" / ".package-lock.json").exists():
        install = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=CLIENT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert install.returncode == 0, install.stdout + install.stderr
    return node


@pytest.fixture(scope="module")
def server():
    """One `parley serve` for this module (the model loaded before it serves), requiring a key."""
    env = {"PARLEY_STT_PRELOAD": "start", "PARLEY_AUTH": "required", "PARLEY_API_KEYS": KEY}
    server = start_process([tool("parley"), "serve"], env=env, timeout=120)
    # Keep reading its log so that a full pipe never blocks it.
    drain = threading.Thread(target=server.process.stderr.read, daemon=True)
    drain.start()
    yield server
    server.process.kill()
    server.process.wait(timeout=10)


def join(node: str, *args: str, env=None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [node, str(CLIENT / "join.js"), *args],
        capture_output=True,
        text=True,
        env=env or NODE_ENV,
        **kwargs,
    )


def wait_for_line(path: Path, text: str, process: subprocess.Popen, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        if process.poll() is not None:
            break
        time.sleep(0.05)
    pytest.fail(f"no {text!r} from the listener: {path.read_text() if path.exists() else ''}")


def two_in_a_room(node, server, tmp_path, room: str, listener: list[str], speaker: list[str]):
    """Luis (``listener`` options) joins ``room`` and waits; Ana (``speaker`` options) speaks.
    Returns Ana's finished run and everything Luis printed; Luis must leave on his own."""
    listener_out = tmp_path / "listener.txt"
    address = ["--address", server.address, "--room", room]
    with listener_out.open("w") as out:
        luis = subprocess.Popen(
            [node, str(CLIENT / "join.js"), *address, "--create", "--name", "Luis", *listener],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=NODE_ENV,
        )
        try:
            wait_for_line(listener_out, f"joined room {room}", luis, within_s=15)
            ana = join(node, *address, "--name", "Ana", *speaker, timeout=60)
            luis.wait(timeout=50)
        finally:
            if luis.poll() is None:
                luis.kill()
                luis.wait()
    heard = listener_out.read_text()
    assert luis.returncode == 0, heard
    return ana, heard


def test_node_unit_tests_pass(node):
    result = subprocess.run(
        [node, "--test", "test/"], cwd=CLIENT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout and "# pass 0" not in result.stdout


def test_english_speaker_heard_in_spanish_by_another_node_client(node, server, tmp_path):
    talk = tmp_path / "talk.wav"
    speech = np.concatenate([silence(0.3), speak(HELLO, "en"), silence(1.0)])
    soundfile.write(talk, speech, 16_000, subtype="PCM_16")
    heard = tmp_path / "heard"
    speaker, heard_text = two_in_a_room(
        node, server, tmp_path, "node-cafe",
        ["--speak", "es", "--listen", "es", "--output", str(heard), "--expect", "1",
         "--wait-seconds", "45"],
        ["--speak", "en", "--listen", "en", "--input", str(talk)],
    )  # fmt: skip
    said = speaker.stdout
    assert speaker.returncode == 0, said + speaker.stderr
    assert f"sending {len(speech) / 16_000:.2f} s of speech" in said
    assert "you (en): Good morning" in said  # the speaker's own caption, as confirmation
    assert "Luis" in said  # already in the room when Ana joined

    assert "+ Ana joined (speaks en, hears en)" in heard_text
    (caption,) = [line for line in heard_text.splitlines() if "Ana (en->es" in line]
    assert "en>pt (bergamot) > pt>es (apertium)" in caption
    assert "buen" in caption.lower() and "hoy" in caption.lower(), caption
    assert "heard 1 utterance(s), saved 1 file(s)" in heard_text

    (wav,) = heard.glob("*.wav")
    assert f"saved {wav}:" in heard_text
    info = soundfile.info(wav)
    assert (info.samplerate, info.channels, info.subtype) == (16_000, 1, "PCM_16")
    assert 1.0 < info.duration < 8.0, info.duration
    samples, _ = soundfile.read(wav, dtype="int16")
    assert np.abs(samples).max() > 1000  # speech, not silence
    # What the Node client saved is the Spanish speech itself: transcribed back, it says it.
    text = asyncio.run(transcribe(server.address, samples.tobytes(), "es", api_key=KEY))
    assert "buen" in text.lower(), text


def test_opus_both_ways(node, server, tmp_path):
    """Ana sends a WebM Opus recording as it is; Luis saves each utterance as Ogg Opus."""
    from tests.encoded import encode, ogg_opus_speech

    talk = tmp_path / "talk.webm"
    speech = np.concatenate([silence(0.3), speak(HELLO, "en"), silence(1.0)])
    talk.write_bytes(encode(speech, "webm_opus"))
    heard = tmp_path / "heard"
    speaker, heard_text = two_in_a_room(
        node, server, tmp_path, "node-opus",
        ["--listen", "es", "--output", str(heard), "--output-format", "opus", "--expect", "1",
         "--wait-seconds", "45"],
        ["--speak", "en", "--listen", "en", "--input", str(talk)],
    )  # fmt: skip
    assert speaker.returncode == 0, speaker.stdout + speaker.stderr
    assert f"sending {talk.stat().st_size} bytes of WEBM_OPUS" in speaker.stdout
    assert "you (en): Good morning" in speaker.stdout
    (ogg,) = heard.glob("*.ogg")
    assert f"saved {ogg}:" in heard_text and "Ogg Opus" in heard_text
    data = ogg.read_bytes()
    assert data.startswith(b"OggS")
    samples = ogg_opus_speech(data)
    assert len(data) < 0.15 * samples.size * 2  # a tenth of the same speech in 16 kHz PCM
    text = asyncio.run(transcribe(server.address, pcm16(samples), "es", api_key=KEY))
    assert "buen" in text.lower(), text


def test_a_missing_key_or_token_is_one_clear_line(node, server):
    keyless = {k: v for k, v in os.environ.items() if k != "PARLEY_API_KEY"}
    result = join(node, "--address", server.address, "--room", "x", "--listen", "es", env=keyless)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert "refused the API key" in line and "missing API key" in line, line

    script = """
const { createClients } = require('./parley');
const c = createClients(process.argv[1], { apiKey: process.argv[2] });
c.rooms.CreateRoom({room_id: 'closed-node'}, (error) => {
  c.close();
  process.exit(error ? 1 : 0);
});
"""
    made = subprocess.run([node, "-e", script, server.address, KEY], cwd=CLIENT, timeout=30)
    assert made.returncode == 0
    result = join(node, "--address", server.address, "--room", "closed-node", "--listen", "es")
    assert result.returncode == 1
    assert "refused you (--token)" in result.stderr and "not open" in result.stderr


def test_mutual_tls_with_a_key(node, spawn, certificates):
    secure = spawn(tool("parley"), "serve", env=mutual_tls_env(certificates, KEY))
    script = """
const { createClients } = require('./parley');
const [address, key, dir, withCert] = process.argv.slice(1);
const c = createClients(address, {
  apiKey: key,
  ca: `${dir}/ca.pem`,
  ...(withCert === 'yes' ? { cert: `${dir}/client.pem`, key: `${dir}/client.key` } : {}),
});
c.translate.Translate(
  { texts: ['Good morning'], source_language: 'en', target_languages: ['es'] },
  { deadline: Date.now() + 10000 },
  (error, reply) => {
    console.log(error ? `error ${error.code}` : reply.translations[0].text);
    c.close();
  },
);
"""
    answers = {}
    for with_cert in ("yes", "no"):
        result = subprocess.run(
            [node, "-e", script, secure.address, KEY, str(certificates), with_cert],
            cwd=CLIENT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        answers[with_cert] = result.stdout.strip()
    assert "buen" in answers["yes"].lower(), answers
    assert answers["no"].startswith("error"), answers  # no client certificate: refused


def test_unknown_room_is_one_clear_line(node, server):
    result = join(node, "--address", server.address, "--room", "nowhere", "--listen", "es")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"join.js: room 'nowhere' not found on {server.address} (--create creates it): "
        "no room 'nowhere'"
    ]


def test_library_gives_stubs_of_the_four_services(node, server):
    script = """
const { createClients } = require('./parley');
const c = createClients(process.argv[1], { apiKey: process.argv[2] });
const call = (client, method, request) => new Promise((resolve, reject) =>
  client[method](request, (error, reply) => (error ? reject(error) : resolve(reply))));
(async () => {
  const out = {
    translation: (await call(c.translate, 'Translate', {texts: ['Good morning'],
      source_language: 'en', target_languages: ['es']})).translations[0].text,
    models: (await call(c.stt, 'ListModels', {})).models.map((m) => m.name),
    voices: (await call(c.tts, 'ListVoices', {language: 'es'})).voices.length,
    rooms: (await call(c.rooms, 'CreateRoom', {room_id: 'from-node'})).room.room_id,
    shared: [c.stt, c.translate, c.tts].every((s) => s.getChannel() === c.rooms.getChannel()),
  };
  c.close();
  console.log(JSON.stringify(out));
})();
"""
    result = subprocess.run(
        [node, "-e", script, server.address, KEY],
        cwd=CLIENT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["translation"] == "Buen día"
    assert "whisper-base" in out["models"]
    assert out["voices"] > 0
    assert out["rooms"] == "from-node"
    assert out["shared"] is True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--address", "127.0.0.1:{port}", "--room", "r", "--listen", "es", "--connect-timeout",
          "1"], "join.js: cannot reach a Parley server at 127.0.0.1:{port} within 1 s"),
        (["--room", "r"], "join.js: --listen is required (--help for usage)"),
        (["--room", "r", "--listen", "es", "--input", "missing.wav"],
         "join.js: cannot read --input missing.wav: no such file"),
    ],
)  # fmt: skip
def test_errors_are_one_line_and_exit_1(node, args, message):
    port = str(free_port())
    result = join(node, *(a.replace("{port}", port) for a in args), timeout=30)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [message.replace("{port}", port)]
    assert result.stdout == ""
