"""Packaged model files: joined once, safely, even by two processes at once."""

from __future__ import annotations

import subprocess
import sys

from services.stt.models import BASE_MODEL_BYTES, join_packaged_base, parse_model_list
from tests.conftest import ROOT

JOIN = "import sys; from pathlib import Path; from services.stt.models import join_packaged_base; "
JOIN += "print(join_packaged_base(Path(sys.argv[1])))"


def test_two_processes_joining_at_once_both_get_a_whole_model(tmp_path):
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", JOIN, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0].strip() for p in processes]
    assert all(p.returncode == 0 for p in processes)
    assert outputs[0] == outputs[1] == str(tmp_path / "whisper-base")
    model = tmp_path / "whisper-base" / "model.bin"
    assert model.stat().st_size == BASE_MODEL_BYTES
    assert sorted(p.name for p in model.parent.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.json",
    ]


def test_a_truncated_model_is_joined_again(tmp_path):
    folder = tmp_path / "whisper-base"
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"partial")
    assert join_packaged_base(tmp_path) == folder
    assert (folder / "model.bin").stat().st_size == BASE_MODEL_BYTES


def test_configured_models_are_parsed():
    sources = parse_model_list("small=/models/small, large.en = org/whisper-large.en")
    assert [(s.name, s.location, s.multilingual) for s in sources] == [
        ("small", "/models/small", True),
        ("large.en", "org/whisper-large.en", False),
    ]
