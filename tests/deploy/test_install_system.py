"""scripts/install-system.sh installs the test tools by default (make) and leaves them out with
--runtime (the image). apt-get and dpkg are stand-ins here: nothing is installed."""

from __future__ import annotations

import os
import subprocess

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "install-system.sh"
TEST_ONLY = {"chromium", "fonts-dejavu-core", "libttspico-utils", "docker-compose", "redis-server"}
SERVERS = {"libttspico0", "libttspico-data", "apertium", "apertium-eng-spa", "apertium-fr-es"}

STUBS = {
    # Nothing is installed, so every package is missing.
    "dpkg-query": "exit 1",
    # Records what would be installed.
    "apt-get": 'echo "$*" >> "$APT_LOG"',
    "id": "echo 0",
    "tee": "cat > /dev/null",
    "sudo": 'exec "$@"',
}


def install(tmp_path, *args: str) -> subprocess.CompletedProcess:
    stubs = tmp_path / "bin"
    stubs.mkdir(exist_ok=True)
    for name, body in STUBS.items():
        (stubs / name).write_text(f"#!/bin/sh\n{body}\n")
        (stubs / name).chmod(0o755)
    log = tmp_path / "apt.log"
    log.unlink(missing_ok=True)
    result = subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": f"{stubs}:{os.environ['PATH']}", "APT_LOG": str(log)},
    )
    result.installed = set()
    if log.exists():
        for line in log.read_text().splitlines():
            if line.startswith("install "):
                result.installed |= {w for w in line.split()[1:] if not w.startswith("-")}
    return result


def test_by_default_it_installs_the_servers_packages_and_the_test_tools(tmp_path):
    result = install(tmp_path)
    assert result.returncode == 0, result.stderr
    assert SERVERS | TEST_ONLY <= result.installed


def test_for_the_image_it_installs_only_what_the_servers_need(tmp_path):
    result = install(tmp_path, "--runtime")
    assert result.returncode == 0, result.stderr
    assert result.installed >= SERVERS
    assert not result.installed & (TEST_ONLY | {"nodejs", "npm"})


def test_an_unknown_option_is_refused(tmp_path):
    result = install(tmp_path, "--everything")
    assert result.returncode == 2 and "usage" in result.stderr
    assert not result.installed
