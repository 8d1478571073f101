"""OpenTelemetry tracing: one utterance in a room is one trace across the services it calls.

A real `parley serve` exports over OTLP/gRPC to a collector that this test runs: the
collector's own service, as OpenTelemetry's Protobuf package defines it.
"""

from __future__ import annotations

import asyncio
from concurrent import futures

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from parley_client import Connection, ConnectionOptions
from tests.conftest import tool
from tests.speech import say_and_hear

SPAN_KIND_CLIENT, SPAN_KIND_SERVER = Span.SPAN_KIND_CLIENT, Span.SPAN_KIND_SERVER


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.spans = []

    def Export(self, request, context):
        for resource_spans in request.resource_spans:
            service = next(
                a.value.string_value
                for a in resource_spans.resource.attributes
                if a.key == "service.name"
            )
            for scope in resource_spans.scope_spans:
                self.spans += [(service, span) for span in scope.spans]
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
def collector():
    server = grpc.server(futures.ThreadPoolExecutor(2))
    sink = Collector()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(sink, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield sink, port
    server.stop(0)


async def test_an_utterance_is_one_trace_across_services(spawn, collector):
    sink, port = collector
    env = {
        "PARLEY_TRACING": "true",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "PARLEY_STT_MODEL": "whisper-tiny.en",
    }
    server = spawn(tool("parley"), "serve", env=env)
    assert any(r["event"] == "tracing enabled" for r in server.log)
    async with Connection(server.address, ConnectionOptions()) as parley:
        await parley.rooms.create("traced", open_room=True)
        caption = await say_and_hear(parley, "traced", "Good morning, everyone.", "en", "es")
    assert "buen" in caption.text.lower()

    for _ in range(50):  # spans are exported in batches
        names = {span.name for _, span in sink.spans}
        if {"utterance", "/parley.v1.TextToSpeechService/StreamingSynthesize"} <= names:
            break
        await asyncio.sleep(0.2)
    (utterance,) = [s for _, s in sink.spans if s.name == "utterance"]
    attributes = {a.key: a.value.string_value for a in utterance.attributes}
    assert attributes["room"] == "traced" and attributes["language"] == "en"
    same_trace = {s.name for _, s in sink.spans if s.trace_id == utterance.trace_id}
    # The room's client calls and the engine services' server spans, all in the one trace.
    for method in ("TranslationService/Translate", "TextToSpeechService/StreamingSynthesize"):
        kinds = {
            s.kind for _, s in sink.spans if s.trace_id == utterance.trace_id and method in s.name
        }
        assert kinds >= {SPAN_KIND_CLIENT, SPAN_KIND_SERVER}, (method, same_trace)
    assert {service for service, _ in sink.spans} == {"parley"}
    # Health checks are not traced.
    assert not any("Health" in s.name for _, s in sink.spans)
