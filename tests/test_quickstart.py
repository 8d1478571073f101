"""The README's quick start, run as written on a fresh server, as a new user would.

The block runs as one bash script (``set -e``: any failing command fails the test) in an
empty folder that holds only the clone's ``.venv``; the one change is the server's address,
which here is a free port rather than 50051.
"""

from __future__ import annotations

import os
import subprocess

import soundfile

from tests.conftest import ROOT, start_process, tool

DEFAULT = "127.0.0.1:50051"


def quick_start() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("<!-- quick start -->", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]


def test_the_quick_start_block_is_what_make_serve_users_have():
    block = quick_start()
    assert block.startswith("source .venv/bin/activate")
    assert "make serve" in (ROOT / "README.md").read_text().split("<!-- quick start -->")[0]
    # Every file a command reads is made by an earlier one.
    assert block.index("-o talk.wav") < block.index("transcribe talk.wav")
    assert block.index("-o talk.wav") < block.index("--input talk.wav")


def test_the_quick_start_runs_top_to_bottom(tmp_path):
    server = start_process([tool("parley"), "serve", "--auth", "disabled"])
    try:
        (tmp_path / ".venv").symlink_to(ROOT / ".venv")
        script = "set -euo pipefail\n" + quick_start().replace(DEFAULT, server.address)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_", "VIRTUAL"))}
        env["PARLEY_ADDRESS"] = server.address
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)
    out = done.stdout
    assert done.returncode == 0, (out, done.stderr)
    assert "Traceback" not in done.stderr
    assert "SERVING" in out
    assert "the report is ready" in out.lower()  # transcribed
    assert "es: Buen" in out and "fr: Bon" in out  # translated
    assert "room quickstart created; open" in out
    assert "Ana (en>es): Buen" in out  # what Luis saw
    (heard,) = (tmp_path / "luis").glob("*.wav")
    assert soundfile.info(str(heard)).duration > 1.0
    assert heard.name in out  # `ls luis/`
