"""The Prometheus endpoint of every service, and what a room utterance records in it."""

from __future__ import annotations

import sys

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from parley_client import Connection, ConnectionOptions
from tests.conftest import tool
from tests.speech import say_and_hear

KEY = "metrics-test-key-0123456789"
METRICS = {"PARLEY_METRICS_ADDRESS": "127.0.0.1:0"}


def scrape(server) -> dict[tuple[str, tuple], float]:
    """Every sample of the server's /metrics, keyed by (name, sorted labels)."""
    port = next(r["port"] for r in server.log if r["event"] == "metrics endpoint")
    reply = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert reply.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(reply.text)
        for s in family.samples
    }


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.parametrize("module", ["services.stt", "services.translate", "services.tts"])
def test_each_service_alone_serves_metrics(spawn, module):
    server = spawn(sys.executable, "-m", module, env=METRICS)
    with grpc.insecure_channel(server.address) as channel:
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    samples = scrape(server)
    check = "/grpc.health.v1.Health/Check"
    assert value(samples, "parley_rpc_calls_total", method=check, code="OK") == 1
    assert value(samples, "parley_rpc_duration_seconds_count", method=check) == 1
    assert value(samples, "process_resident_memory_bytes") > 10_000_000


async def test_a_room_utterance_is_counted_timed_and_staged(spawn):
    env = {**METRICS, "PARLEY_AUTH": "required", "PARLEY_API_KEYS": KEY}
    env["PARLEY_STT_MODEL"] = "whisper-tiny.en"
    server = spawn(tool("parley"), "serve", env=env)
    async with Connection(server.address, ConnectionOptions(api_key=KEY)) as parley:
        await parley.rooms.create("metered", open_room=True)
        caption = await say_and_hear(parley, "metered", "Good morning, everyone.", "en", "es")
    assert "buen" in caption.text.lower()
    async with Connection(server.address, ConnectionOptions()) as anonymous:
        with pytest.raises(Exception, match="missing API key"):
            await anonymous.rooms.list()

    samples = scrape(server)
    rooms = "/parley.v1.RoomService/"
    assert value(samples, "parley_rpc_calls_total", method=rooms + "CreateRoom", code="OK") == 1
    assert (
        value(samples, "parley_rpc_calls_total", method=rooms + "ListRooms", code="UNAUTHENTICATED")
        == 1
    )
    # The room's own calls to the engines go through the same server and are counted too.
    translate = "/parley.v1.TranslationService/Translate"
    assert value(samples, "parley_rpc_calls_total", method=translate, code="OK") >= 1
    assert value(samples, "parley_rpc_duration_seconds_count", method=translate) >= 1
    for stage in ("endpointing", "recognition", "translation", "synthesis_first_chunk"):
        count = value(samples, "parley_utterance_stage_seconds_count", stage=stage)
        assert count >= 1, stage
    recognition = value(samples, "parley_utterance_stage_seconds_sum", stage="recognition")
    assert 0 < recognition < 30
    loads = [v for (n, labels), v in samples.items() if n == "parley_model_load_seconds"]
    assert loads and all(v > 0 for v in loads)
    assert any(n == "parley_queue_depth" for n, _ in samples)
