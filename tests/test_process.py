"""Servers as a user starts them: `parley serve`, `python -m services.<name>`, grpcurl, signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import ROOT, tool

FOUR = {
    "parley.v1.RoomService",
    "parley.v1.SpeechToTextService",
    "parley.v1.TranslationService",
    "parley.v1.TextToSpeechService",
}
STANDARD = {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"}


def grpcurl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [tool("grpcurl"), "-plaintext", *args], capture_output=True, text=True, timeout=60
    )


def test_parley_serve_lists_every_service_through_grpcurl(spawn):
    server = spawn(tool("parley"), "serve")
    listed = grpcurl(server.address, "list")
    assert listed.returncode == 0, listed.stderr
    assert set(listed.stdout.split()) == FOUR | STANDARD

    described = grpcurl(server.address, "describe", "parley.v1.TranslationService")
    assert described.returncode == 0, described.stderr
    assert "rpc Translate ( .parley.v1.TranslateRequest )" in described.stdout

    health = grpcurl(
        "-d", '{"service": "parley.v1.RoomService"}', server.address, "grpc.health.v1.Health/Check"
    )
    assert health.returncode == 0, health.stderr
    assert '"status": "SERVING"' in health.stdout


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("services.stt", "parley.v1.SpeechToTextService"),
        ("services.translate", "parley.v1.TranslationService"),
        ("services.tts", "parley.v1.TextToSpeechService"),
        ("services.rooms", "parley.v1.RoomService"),
    ],
)
def test_each_service_runs_alone(spawn, module, name):
    peer = "127.0.0.1:9"  # the room service needs its peers' addresses; never called here
    peers = {f"PARLEY_{s}_ADDRESS": peer for s in ("STT", "TRANSLATE", "TTS")}
    server = spawn(sys.executable, "-m", module, "--port", "0", env=peers)
    assert server.log[-1]["services"] == [name]
    listed = grpcurl(server.address, "list")
    assert set(listed.stdout.split()) == {name} | STANDARD


async def test_sigterm_drains_then_exits_cleanly(spawn):
    server = spawn(sys.executable, "-m", "services.tts", env={"PARLEY_SHUTDOWN_GRACE_S": "1"})
    async with grpc.aio.insecure_channel(server.address) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
        server.process.send_signal(signal.SIGTERM)
        statuses = []
        try:
            while (reply := await watch.read()) is not grpc.aio.EOF:
                statuses.append(reply.status)
        except grpc.aio.AioRpcError as exc:
            # Open streams are cancelled when the grace period ends.
            assert exc.code() in {grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE}
        assert statuses[0] == health_pb2.HealthCheckResponse.NOT_SERVING
    assert server.process.wait(timeout=20) == 0
    tail = server.process.stderr.read()
    assert '"event": "server stopped"' in tail


def test_invalid_environment_value_is_a_clear_error():
    result = subprocess.run(
        [sys.executable, "-m", "services.stt"],
        cwd=ROOT,
        env={**os.environ, "PARLEY_PORT": "many"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "PARLEY_PORT='many' is not a valid int" in result.stdout + result.stderr


def test_port_flag_overrides_environment(spawn):
    server = spawn(sys.executable, "-m", "services.stt", "--port", "0", env={"PARLEY_PORT": "1"})
    assert server.port > 1


def test_room_service_alone_without_peer_addresses_fails_at_start():
    result = subprocess.run(
        [sys.executable, "-m", "services.rooms", "--port", "0"],
        cwd=ROOT,
        env={**os.environ, "PARLEY_LOG_FORMAT": "json", "PARLEY_AUTH": "disabled"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "PARLEY_STT_ADDRESS is not set and this server does not host" in result.stderr
