"""Prometheus metrics of a Parley process, served over HTTP when ``PARLEY_METRICS_ADDRESS`` is set.

:class:`RpcMetrics`, a server interceptor, counts every call by method and status code and times
it. Services record what only they know through the module-level metrics below: utterance
stages, queue depths, dropped audio, model load times. Metric names follow Prometheus'
conventions (``_total`` counters, ``_seconds`` units).
"""

from __future__ import annotations

import contextlib
import time

import grpc
from prometheus_client import Counter, Gauge, Histogram, start_http_server

from parley.logs import get_logger
from parley.rpc import around_calls

log = get_logger(__name__)

# Latencies of an interactive system: 5 ms to 30 s.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)

RPC_CALLS = Counter(
    "parley_rpc_calls_total", "Calls answered, by method and status code", ["method", "code"]
)
RPC_SECONDS = Histogram(
    "parley_rpc_duration_seconds",
    "Time from the start of a call to its end (for streams, the whole stream), by method",
    ["method"],
    buckets=_BUCKETS,
)
RPC_OPEN = Gauge("parley_rpc_open_calls", "Calls in progress, by method", ["method"])
STAGE_SECONDS = Histogram(
    "parley_utterance_stage_seconds",
    "Time an utterance spends in each stage of a room: endpointing, recognition, translation, "
    "synthesis_first_chunk",
    ["stage"],
    buckets=_BUCKETS,
)
QUEUE_DEPTH = Gauge("parley_queue_depth", "Work waiting in a queue, by queue", ["queue"])
DROPPED_AUDIO = Counter(
    "parley_dropped_audio_chunks_total",
    "Audio chunks dropped for listeners who could not keep up",
)
MODEL_LOAD_SECONDS = Gauge(
    "parley_model_load_seconds", "Time the last load of a model took", ["service", "model"]
)
SUPPRESSED_RESULTS = Counter(
    "parley_stt_suppressed_results_total",
    "Recognition results dropped as unlikely speech (babble, music, noise), by model and reason "
    "(no_speech, low_confidence, compression, voice_activity, repeated)",
    ["model", "reason"],
)
WINDOW_FALLBACKS = Counter(
    "parley_stt_window_fallbacks_total",
    "Whisper calls decoded again with the full 30 s window because the fitted window's output "
    "looked wrong, by model and reason (token_limit, repetition, too_many_words, compression, "
    "low_confidence)",
    ["model", "reason"],
)


@contextlib.contextmanager
def model_load(service: str, model: str):
    """Times the block that loads ``model`` into :data:`MODEL_LOAD_SECONDS` (if it succeeds)."""
    started = time.perf_counter()
    yield
    MODEL_LOAD_SECONDS.labels(service, model).set(time.perf_counter() - started)


class RpcMetrics(grpc.aio.ServerInterceptor):
    """Counts and times every call (refused ones included, when placed first)."""

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method

        async def begin(_context) -> float:
            RPC_OPEN.labels(method).inc()
            return time.perf_counter()

        def end(context, started: float, failed: bool) -> None:
            code = context.code()
            if code is None:
                code = grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK
            name = code.name if isinstance(code, grpc.StatusCode) else str(code)
            RPC_CALLS.labels(method, name).inc()
            RPC_SECONDS.labels(method).observe(time.perf_counter() - started)
            RPC_OPEN.labels(method).dec()

        return around_calls(handler, begin, end)


def serve_http(address: str):
    """Starts the ``/metrics`` endpoint at ``host:port`` (port 0 picks one); returns the HTTP
    server, whose ``server_port`` is the port."""
    host, _, port = address.rpartition(":")
    server, _thread = start_http_server(int(port), addr=host.strip("[]") or "0.0.0.0")
    return server
