"""The Protobuf contract: buf lint, buf breaking, and generated code that is not stale."""

from __future__ import annotations

import subprocess

from tests.conftest import ROOT, tool
from tools import genproto


def run_buf(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [tool("buf"), *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_buf_lint_passes():
    result = run_buf("lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_breaking_change_against_the_v1_baseline():
    result = run_buf("breaking", "--against", "protos/baseline.binpb")
    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_lint_catches_an_undocumented_field(tmp_path):
    """The lint rules really run: an undocumented field breaks them."""
    module = tmp_path / "protos" / "parley" / "v1"
    module.mkdir(parents=True)
    (tmp_path / "buf.yaml").write_text((ROOT / "buf.yaml").read_text())
    (module / "bad.proto").write_text(
        'syntax = "proto3";\npackage parley.v1;\n// A message.\nmessage Bad {\n  string x = 1;\n}\n'
    )
    result = subprocess.run(
        [tool("buf"), "lint"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "Field" in result.stdout and "comment" in result.stdout.lower()


def test_generated_code_is_up_to_date(tmp_path):
    fresh = {p.name: p.read_bytes() for p in genproto.generate(tmp_path)}
    committed_dir = ROOT / genproto.PACKAGE_DIR
    committed = {
        p.name: p.read_bytes() for p in committed_dir.iterdir() if p.suffix in {".py", ".pyi"}
    }
    stale = sorted(
        name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name)
    )
    assert not stale, f"generated code is stale, run `python -m tools.genproto`: {stale}"


def test_every_proto_has_its_generated_module():
    names = {p.stem for p in genproto.proto_files()}
    assert names == {"audio", "stt", "translate", "tts", "rooms", "replicas"}
    for name in names:
        assert (ROOT / genproto.PACKAGE_DIR / f"{name}_pb2.py").exists()
