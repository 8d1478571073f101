"""Shared fixtures: real servers on 127.0.0.1, port 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """Path of a command installed in this environment (buf, grpcurl, parley)."""
    path = VENV_BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed next to {sys.executable}: run the README set-up")
    return str(path)


@dataclass
class ServerProcess:
    """A Parley server running as a child process."""

    process: subprocess.Popen
    port: int
    log: list[dict]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def start_process(args: list[str], timeout: float = 30.0, env: dict | None = None) -> ServerProcess:
    """Starts ``args`` (a Parley server command) on 127.0.0.1:0 and waits for its port.

    The port is read from the JSON ``server started`` log line.
    """
    full_env = {
        **os.environ,
        "PARLEY_HOST": "127.0.0.1",
        "PARLEY_PORT": "0",
        # Servers in these tests answer about themselves; none needs a model in memory.
        "PARLEY_STT_PRELOAD": "lazy",
        # Tests of features run without API keys; tests/test_auth.py and the client tests
        # that pass a key cover authentication.
        "PARLEY_AUTH": "disabled",
        **(env or {}),
    }
    full_env["PARLEY_LOG_FORMAT"] = "json"
    process = subprocess.Popen(
        args, cwd=ROOT, env=full_env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    log: list[dict] = []
    deadline = time.monotonic() + timeout
    assert process.stderr is not None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        log.append(record)
        if record.get("event") == "server started":
            port = int(record["address"].rsplit(":", 1)[1])
            return ServerProcess(process, port, log)
    process.kill()
    rest = process.stderr.read()
    pytest.fail(f"server {args} did not start: {log} {rest}")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="session")
def certificates(tmp_path_factory) -> Path:
    """A folder with a throwaway CA (ca.pem), a server certificate for 127.0.0.1 and localhost
    (server.pem, server.key) and a client certificate (client.pem, client.key)."""
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=Test CA",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=d)  # fmt: skip
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)  # fmt: skip
        (d / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "1", "-extfile", f"{name}.ext",
                 "-out", f"{name}.pem", cwd=d)  # fmt: skip
    return d


def mutual_tls_env(certs: Path, key: str) -> dict[str, str]:
    """Settings of a server that requires ``key``, TLS and client certificates from the
    ``certificates`` CA, and whose room service reaches its engines the same way."""
    return {
        "PARLEY_AUTH": "required",
        "PARLEY_API_KEYS": key,
        "PARLEY_TLS_CERT_FILE": str(certs / "server.pem"),
        "PARLEY_TLS_KEY_FILE": str(certs / "server.key"),
        "PARLEY_TLS_CLIENT_CA_FILE": str(certs / "ca.pem"),
        "PARLEY_BACKEND_CA_FILE": str(certs / "ca.pem"),
        "PARLEY_BACKEND_CERT_FILE": str(certs / "client.pem"),
        "PARLEY_BACKEND_KEY_FILE": str(certs / "client.key"),
    }


@pytest.fixture
def spawn() -> Iterator:
    """Starts server processes for a test and kills any still running at its end."""
    started: list[ServerProcess] = []

    def _spawn(*args: str, **kwargs) -> ServerProcess:
        server = start_process(list(args), **kwargs)
        started.append(server)
        return server

    yield _spawn
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
        server.process.wait(timeout=10)
        if server.process.stderr:
            server.process.stderr.close()
