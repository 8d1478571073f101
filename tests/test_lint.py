"""The code base stays clean: ruff lint and format."""

from __future__ import annotations

import subprocess

from tests.conftest import ROOT, tool


def test_ruff_lint_and_format_are_clean():
    check = subprocess.run([tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run(
        [tool("ruff"), "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout
