"""Authentication, TLS and per-key stream limits of every Parley server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from parley.errors import InvalidInput
from parley.server import ParleyServer, ServerConfig, running
from parley.v1 import rooms_pb2, stt_pb2, translate_pb2, tts_pb2
from parley_client import Connection, ConnectionOptions
from services.rooms.config import RoomsConfig
from services.rooms.servicer import service as rooms_service
from services.stt.config import SttConfig
from services.stt.servicer import service as stt_service
from services.translate.config import TranslateConfig
from services.translate.servicer import service as translate_service
from services.tts.config import TtsConfig
from services.tts.servicer import service as tts_service
from tests.conftest import ROOT, mutual_tls_env, tool
from tests.speech import say_and_hear

KEY = "security-test-key-0123456789"
KEYED = ServerConfig(host="127.0.0.1", port=0, api_keys=KEY)

# One cheap call per service, each answering OK when the caller is let in.
CALLS = {
    "RoomService": (
        "/parley.v1.RoomService/ListRooms",
        rooms_pb2.ListRoomsRequest(),
        rooms_pb2.ListRoomsResponse,
    ),
    "SpeechToTextService": (
        "/parley.v1.SpeechToTextService/ListModels",
        stt_pb2.ListModelsRequest(),
        stt_pb2.ListModelsResponse,
    ),
    "TranslationService": (
        "/parley.v1.TranslationService/ListLanguagePairs",
        translate_pb2.ListLanguagePairsRequest(source_language="en"),
        translate_pb2.ListLanguagePairsResponse,
    ),
    "TextToSpeechService": (
        "/parley.v1.TextToSpeechService/ListVoices",
        tts_pb2.ListVoicesRequest(language="es"),
        tts_pb2.ListVoicesResponse,
    ),
}


def all_services():
    return [
        rooms_service(RoomsConfig()),
        stt_service(SttConfig(preload="lazy")),
        translate_service(TranslateConfig()),
        tts_service(TtsConfig(tts_preload=False)),
    ]


async def call(channel, service: str, metadata=()):
    method, request, reply = CALLS[service]
    stub = channel.unary_unary(
        method,
        request_serializer=type(request).SerializeToString,
        response_deserializer=reply.FromString,
    )
    return await stub(request, metadata=metadata, timeout=30)


@pytest.fixture(scope="module")
async def keyed_server():
    async with running(all_services(), KEYED) as server:
        yield server


@pytest.mark.parametrize("service", CALLS)
async def test_every_service_requires_a_valid_key(keyed_server, service):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{keyed_server.port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await call(channel, service)
        assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "missing API key" in missing.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as wrong:
            await call(channel, service, [("authorization", "Bearer not-the-key-0123456789")])
        assert wrong.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert wrong.value.details() == "invalid API key"
        await call(channel, service, [("authorization", f"Bearer {KEY}")])
        await call(channel, service, [("x-api-key", KEY)])


async def test_health_is_open_and_reflection_is_not(keyed_server):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{keyed_server.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(service=""))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        listing = reflection_pb2.ServerReflectionRequest(list_services="")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            async for _ in reflection.ServerReflectionInfo(iter([listing])):
                pass
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        replies = reflection.ServerReflectionInfo(iter([listing]), metadata=[("x-api-key", KEY)])
        async for reply in replies:
            assert any("RoomService" in s.name for s in reply.list_services_response.service)


async def test_keys_are_required_unless_authentication_is_disabled(tmp_path):
    with pytest.raises(InvalidInput, match="PARLEY_AUTH=disabled"):
        ParleyServer(all_services(), ServerConfig(port=0))
    with pytest.raises(InvalidInput, match="shorter than 16 characters"):
        ParleyServer(all_services(), ServerConfig(port=0, api_keys="short"))
    keys = tmp_path / "keys"
    keys.write_text(f"# staff\n{KEY}\n\nsecond-key-0123456789abcdef\n")
    server = ParleyServer(all_services(), ServerConfig(port=0, api_keys_file=str(keys)))
    assert server.internal_api_key == KEY
    with pytest.raises(InvalidInput, match="cannot read the API keys file"):
        ParleyServer(all_services(), ServerConfig(port=0, api_keys_file=str(tmp_path / "none")))


def refusal(**env: str) -> str:
    """What ``parley serve`` says when it refuses to start with ``env`` (and no other setting)."""
    result = subprocess.run(
        [sys.executable, "-m", "parley.cli", "serve"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PARLEY_PORT": "0", "PARLEY_STT_PRELOAD": "lazy", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    return result.stdout + result.stderr


def test_a_server_without_keys_does_not_start_and_says_why():
    assert "no API key is configured" in refusal()


def test_disabled_authentication_is_announced_at_start(spawn):
    server = spawn(sys.executable, "-m", "services.translate", env={"PARLEY_AUTH": "disabled"})
    warnings = [r for r in server.log if r.get("level") == "warning"]
    assert any("authentication is disabled" in r["event"] for r in warnings), server.log
    started = next(r for r in server.log if r["event"] == "server started")
    assert started["auth"] == "disabled" and started["tls"] is False


async def test_streams_per_key_are_limited_and_released():
    config = ServerConfig(host="127.0.0.1", port=0, api_keys=KEY, max_streams_per_key=2)
    # No audio is sent: the engines' addresses are never called.
    engines = RoomsConfig(
        stt_address="127.0.0.1:9", translate_address="127.0.0.1:9", tts_address="127.0.0.1:9"
    )
    async with running([rooms_service(engines)], config) as server:
        options = ConnectionOptions(api_key=KEY)
        async with Connection(f"127.0.0.1:{server.port}", options) as parley:
            await parley.rooms.create("limits", open_room=True)
            held = [parley.rooms.join("limits", f"P{i}", "en", "en") for i in range(2)]
            for session in held:
                assert (await anext(aiter(session.events()))).HasField("joined")
            third = parley.rooms.join("limits", "P3", "en", "en")
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await anext(aiter(third.events()))
            assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "max_streams_per_key" in info.value.details()
            # A stream that ends frees its place.
            held[0].cancel()
            await asyncio.sleep(0.3)
            fourth = parley.rooms.join("limits", "P4", "en", "en")
            assert (await anext(aiter(fourth.events()))).HasField("joined")
            for session in (held[1], fourth):
                session.cancel()


async def test_a_room_works_end_to_end_over_mutual_tls_with_keys(spawn, certificates):
    """The room service reaches its engines over TLS with a client certificate and a key,
    and a spoken English sentence reaches a Spanish listener as a caption."""
    env = {**mutual_tls_env(certificates, KEY), "PARLEY_STT_MODEL": "whisper-tiny.en"}
    server = spawn(tool("parley"), "serve", env=env)
    started = next(r for r in server.log if r["event"] == "server started")
    assert started["tls"] is True and started["mutual_tls"] is True
    options = ConnectionOptions(
        root_certificates=str(certificates / "ca.pem"),
        client_certificate=str(certificates / "client.pem"),
        client_key=str(certificates / "client.key"),
        api_key=KEY,
    )
    async with Connection(server.address, options) as parley:
        created = await parley.rooms.create("secure")
        caption = await say_and_hear(
            parley, "secure", "Good morning, everyone.", "en", "es", created.join_token
        )
    assert caption.language == "es" and "buen" in caption.text.lower(), caption


def test_tls_without_a_backend_ca_is_refused_at_start(certificates):
    said = refusal(
        PARLEY_AUTH="disabled",
        PARLEY_TLS_CERT_FILE=str(certificates / "server.pem"),
        PARLEY_TLS_KEY_FILE=str(certificates / "server.key"),
    )
    assert "PARLEY_BACKEND_CA_FILE" in said
    assert "needs both" in refusal(PARLEY_AUTH="disabled", PARLEY_TLS_CERT_FILE="x.pem")


@pytest.mark.parametrize("opt_in", [False, True], ids=["default", "transcripts opted in"])
async def test_no_transcript_or_audio_reaches_logs_or_disk_unless_opted_in(spawn, tmp_path, opt_in):
    home, temp, cache = (tmp_path / d for d in ("home", "tmp", "cache"))
    for folder in (home, temp, cache):
        folder.mkdir()
    env = {
        "HOME": str(home),
        "TMPDIR": str(temp),
        "XDG_CACHE_HOME": str(cache),
        "PARLEY_STT_MODEL": "whisper-tiny.en",
        "PARLEY_LOG_TRANSCRIPTS": str(opt_in).lower(),
    }
    server = spawn(tool("parley"), "serve", env=env)
    async with Connection(server.address, ConnectionOptions()) as parley:
        await parley.rooms.create("private", open_room=True)
        said = "Please send me the quarterly report."
        caption = await say_and_hear(parley, "private", said, "en", "es")
    assert "informe" in caption.text.lower()
    server.process.terminate()
    log = "\n".join(json.dumps(r) for r in server.log) + server.process.stderr.read()
    transcripts = [line for line in log.splitlines() if '"transcript"' in line]
    if opt_in:
        (line,) = transcripts
        record = json.loads(line)
        assert "quarterly report" in record["text"].lower()
        assert "informe" in record["translations"]["es"].lower()
        assert record["logger"] == "parley.transcripts"
    else:
        assert not transcripts
        for word in ("quarterly", "report", "informe", "trimestral"):
            assert word not in log.lower(), word
    # Libraries leave a few files of their own (ONNX Runtime a device id, the Pico engine its
    # compiled helper); none holds audio or words of the conversation.
    written = [p for d in (home, temp, cache) for p in d.rglob("*") if p.is_file()]
    for path in written:
        data = path.read_bytes().lower()
        assert not data.startswith(b"riff") and b"fmt " not in data[:64], path
        for word in (b"quarterly", b"report", b"informe"):
            assert word not in data, (path, word)
