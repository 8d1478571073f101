"""Optional OpenTelemetry tracing (the ``tracing`` extra): one trace per utterance, across
services.

:func:`enable` instruments every ``grpc.aio`` server and channel created afterwards (the
instrumentation propagates the trace context in call metadata) and exports spans over OTLP,
configured by the standard ``OTEL_*`` variables (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_SERVICE_NAME``, ...). The room service opens an ``utterance`` span around the delivery of
each utterance, so its translation and synthesis calls, and the spans of the services that
answer them, share one trace. Without the extra installed, :func:`span` does nothing.
"""

from __future__ import annotations

import contextlib

from parley.errors import InvalidInput
from parley.logs import get_logger

log = get_logger(__name__)

try:
    from opentelemetry import trace
except ImportError:  # the extra is not installed
    trace = None


def enable(service_name: str) -> None:
    """Exports spans over OTLP and instruments gRPC servers and channels made from now on.

    Raises:
        InvalidInput: if the ``tracing`` extra is not installed.
    """
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.grpc import (
            GrpcAioInstrumentorClient,
            GrpcAioInstrumentorServer,
            filters,
        )
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise InvalidInput(
            "PARLEY_TRACING needs the tracing extra: pip install 'parley[tracing]'"
        ) from exc
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    # Health checks of load balancers would bury the utterances.
    GrpcAioInstrumentorServer(filter_=filters.negate(filters.health_check())).instrument()
    GrpcAioInstrumentorClient().instrument()
    log.info("tracing enabled", exporter="otlp")


def span(name: str, **attributes):
    """A span around a block when tracing is available; otherwise a no-op context."""
    if trace is None:
        return contextlib.nullcontext()
    return trace.get_tracer("parley").start_as_current_span(name, attributes=attributes)


def shutdown() -> None:
    """Exports the spans still buffered."""
    if trace is not None:
        provider = trace.get_tracer_provider()
        if hasattr(provider, "shutdown"):
            provider.shutdown()
