"""The gRPC server every Parley service runs in.

A service contributes a :class:`Service`: its full Protobuf name, a function that registers its
servicer, and optional start, drain and stop hooks. :class:`ParleyServer` hosts one or several
of them on one port with what every server needs: ``grpc.health.v1`` health with a status per
service, server reflection, message size limits, keepalive, and a graceful shutdown that stops
new calls, lets open streams drain for a grace period, then cancels what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from parley.auth import CallerGate, load_keys
from parley.errors import InvalidInput
from parley.logs import get_logger
from parley.metrics import RpcMetrics, serve_http
from parley.settings import option

log = get_logger(__name__)

Hook = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class ServerConfig:
    """Server: network, limits and shutdown."""

    host: str = field(
        default="127.0.0.1",
        metadata=option("PARLEY_HOST", "address to listen on; 0.0.0.0 or [::] for every interface"),
    )
    port: int = field(
        default=50051, metadata=option("PARLEY_PORT", "port to listen on; 0 picks a free one")
    )
    max_message_bytes: int = field(
        default=16 * 1024 * 1024,
        metadata=option("PARLEY_MAX_MESSAGE_BYTES", "largest message received or sent, in bytes"),
    )
    keepalive_time_s: float = field(
        default=30.0,
        metadata=option(
            "PARLEY_KEEPALIVE_TIME_S", "seconds between keepalive pings on idle connections"
        ),
    )
    keepalive_timeout_s: float = field(
        default=10.0,
        metadata=option(
            "PARLEY_KEEPALIVE_TIMEOUT_S", "seconds to wait for a ping answer before closing"
        ),
    )
    max_connection_age_s: float = field(
        default=0.0,
        metadata=option(
            "PARLEY_MAX_CONNECTION_AGE_S",
            "close client connections after this many seconds (open calls may finish), so that "
            "clients balancing over a DNS name find new replicas; 0 keeps them open",
        ),
    )
    auth: str = field(
        default="required",
        metadata=option(
            "PARLEY_AUTH",
            "required: every call but health checks needs an API key; disabled: anyone who "
            "reaches the port may call (local use only; the server says so at start)",
            choices=("required", "disabled"),
        ),
    )
    api_keys: str = field(
        default="",
        repr=False,
        metadata=option(
            "PARLEY_API_KEYS",
            "accepted API keys, comma-separated (prefer the file: a flag shows in ps)",
            metavar="KEYS",
        ),
    )
    api_keys_file: str = field(
        default="",
        metadata=option(
            "PARLEY_API_KEYS_FILE", "file of accepted API keys, one per line", metavar="PATH"
        ),
    )
    max_streams_per_key: int = field(
        default=500,
        metadata=option(
            "PARLEY_MAX_STREAMS_PER_KEY",
            "most streaming calls one API key (or, without auth, one address) holds open; a "
            "gateway holds one per browser; 0 for no limit",
        ),
    )
    tls_cert_file: str = field(
        default="",
        metadata=option(
            "PARLEY_TLS_CERT_FILE",
            "PEM certificate chain; with the key, the server speaks only TLS",
            metavar="PATH",
        ),
    )
    tls_key_file: str = field(
        default="",
        metadata=option(
            "PARLEY_TLS_KEY_FILE", "PEM private key of the certificate", metavar="PATH"
        ),
    )
    tls_client_ca_file: str = field(
        default="",
        metadata=option(
            "PARLEY_TLS_CLIENT_CA_FILE",
            "PEM CA certificates; when set, clients must present a certificate it signed "
            "(mutual TLS)",
            metavar="PATH",
        ),
    )
    metrics_address: str = field(
        default="",
        metadata=option(
            "PARLEY_METRICS_ADDRESS",
            "host:port of the Prometheus /metrics endpoint (HTTP); empty for none; port 0 picks "
            "a free one",
            metavar="ADDRESS",
        ),
    )
    tracing: bool = field(
        default=False,
        metadata=option(
            "PARLEY_TRACING",
            "export OpenTelemetry traces over OTLP (the tracing extra; configured by the "
            "standard OTEL_* variables, e.g. OTEL_EXPORTER_OTLP_ENDPOINT)",
        ),
    )
    shutdown_grace_s: float = field(
        default=10.0,
        metadata=option(
            "PARLEY_SHUTDOWN_GRACE_S",
            "on SIGTERM/SIGINT, seconds open calls may take to finish before they are cancelled",
        ),
    )

    def keys(self) -> tuple[str, ...] | None:
        """The accepted API keys, or None when authentication is disabled.

        Raises:
            InvalidInput: if authentication is required and no key is configured, or a key
                file cannot be read.
        """
        if self.auth == "disabled":
            return None
        keys = load_keys(self.api_keys, self.api_keys_file)
        if not keys:
            raise InvalidInput(
                "authentication is required but no API key is configured: set PARLEY_API_KEYS "
                "or PARLEY_API_KEYS_FILE (--api-keys-file), or PARLEY_AUTH=disabled "
                "(--auth disabled) for local use"
            )
        return keys

    def credentials(self) -> grpc.ServerCredentials | None:
        """TLS credentials from the certificate files, or None for plain text.

        Raises:
            InvalidInput: if only one of certificate and key is set, or a file is unreadable.
        """
        if not (self.tls_cert_file or self.tls_key_file):
            if self.tls_client_ca_file:
                raise InvalidInput(
                    "PARLEY_TLS_CLIENT_CA_FILE needs PARLEY_TLS_CERT_FILE and _KEY_FILE"
                )
            return None
        if not (self.tls_cert_file and self.tls_key_file):
            raise InvalidInput("TLS needs both PARLEY_TLS_CERT_FILE and PARLEY_TLS_KEY_FILE")
        chain, key = _read_pem(self.tls_cert_file), _read_pem(self.tls_key_file)
        client_ca = _read_pem(self.tls_client_ca_file) if self.tls_client_ca_file else None
        return grpc.ssl_server_credentials(
            [(key, chain)], root_certificates=client_ca, require_client_auth=client_ca is not None
        )

    def grpc_options(self) -> list[tuple[str, int]]:
        """Channel arguments for the server."""
        return [
            ("grpc.max_receive_message_length", self.max_message_bytes),
            ("grpc.max_send_message_length", self.max_message_bytes),
            ("grpc.keepalive_time_ms", int(self.keepalive_time_s * 1000)),
            ("grpc.keepalive_timeout_ms", int(self.keepalive_timeout_s * 1000)),
            ("grpc.keepalive_permit_without_calls", 1),
            # Let clients ping as often as every 5 s without being sent GOAWAY.
            ("grpc.http2.min_recv_ping_interval_without_data_ms", 5000),
            ("grpc.http2.max_ping_strikes", 0),
            # Fail loudly when the port is taken instead of sharing it.
            ("grpc.so_reuseport", 0),
            *(
                [
                    ("grpc.max_connection_age_ms", int(self.max_connection_age_s * 1000)),
                    # Long streams (a room, a recognition stream) are not cut by the age.
                    ("grpc.max_connection_age_grace_ms", 2**31 - 1),
                ]
                if self.max_connection_age_s > 0
                else []
            ),
        ]


def _read_pem(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from exc


@dataclass(frozen=True)
class Service:
    """What one gRPC service contributes to a server.

    Attributes:
        name: full Protobuf service name, for example ``parley.v1.SpeechToTextService``.
        register: adds the servicer to a ``grpc.aio.Server``.
        start: awaited with the running server before it reports SERVING (to load models, or
            to find sibling services hosted by the same server).
        drain: awaited when shutdown begins, to end long-lived streams politely.
        stop: awaited after the server stopped, to release resources.
    """

    name: str
    register: Callable[[grpc.aio.Server], None]
    start: Callable[[ParleyServer], Awaitable[None]] | None = None
    drain: Hook | None = None
    stop: Hook | None = None


class ServerError(RuntimeError):
    """The server could not start."""


class ParleyServer:
    """One ``grpc.aio`` server hosting one or more Parley services."""

    def __init__(self, services: Sequence[Service], config: ServerConfig) -> None:
        if not services:
            raise ValueError("a server needs at least one service")
        self._services = tuple(services)
        self._config = config
        self._keys = config.keys()
        self._credentials = config.credentials()
        self.gate = CallerGate(self._keys, config.max_streams_per_key)
        # Metrics first, so that refused calls are counted too.
        self._server = grpc.aio.server(
            options=config.grpc_options(), interceptors=[RpcMetrics(), self.gate]
        )
        self._metrics_http = None
        self.metrics_port = 0
        self.health = health.aio.HealthServicer()
        self.port = 0

    @property
    def service_names(self) -> list[str]:
        """Full names of every service hosted, health and reflection included."""
        return [
            *(s.name for s in self._services),
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ]

    @property
    def config(self) -> ServerConfig:
        return self._config

    @property
    def internal_api_key(self) -> str | None:
        """A key this server accepts, for its own services calling each other; None without
        authentication."""
        return self._keys[0] if self._keys else None

    @property
    def tls(self) -> bool:
        return self._credentials is not None

    @property
    def local_address(self) -> str:
        """Address at which this process can call its own server."""
        host = self._config.host
        if host in ("0.0.0.0", "", "::", "[::]"):
            host = "127.0.0.1"
        return (
            f"[{host}]:{self.port}"
            if ":" in host and not host.startswith("[")
            else f"{host}:{self.port}"
        )

    @property
    def address(self) -> str:
        """host:port the server listens on (valid after :meth:`start`)."""
        host = self._config.host
        return (
            f"[{host}]:{self.port}"
            if ":" in host and not host.startswith("[")
            else f"{host}:{self.port}"
        )

    async def start(self) -> int:
        """Binds, runs the services' start hooks, starts serving and returns the port.

        Raises:
            ServerError: if the address cannot be bound.
        """
        for service in self._services:
            service.register(self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        reflection.enable_server_reflection(self.service_names, self._server)
        target = f"{self._config.host}:{self._config.port}"
        try:
            if self._credentials is None:
                self.port = self._server.add_insecure_port(target)
            else:
                self.port = self._server.add_secure_port(target, self._credentials)
        except RuntimeError as exc:
            raise ServerError(f"cannot listen on {target}: {exc}") from exc
        if self.port == 0:
            raise ServerError(f"cannot listen on {target}: address in use or not available")
        for name in ("", *(s.name for s in self._services)):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await self._server.start()
        try:
            for service in self._services:
                if service.start:
                    await service.start(self)
                await self.health.set(service.name, health_pb2.HealthCheckResponse.SERVING)
        except BaseException:
            await self._server.stop(0)
            raise
        await self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        if self._config.metrics_address:
            try:
                self._metrics_http = serve_http(self._config.metrics_address)
            except (OSError, ValueError) as exc:
                await self._server.stop(0)
                raise ServerError(
                    f"cannot serve metrics on {self._config.metrics_address}: {exc}"
                ) from exc
            self.metrics_port = self._metrics_http.server_port
            log.info("metrics endpoint", port=self.metrics_port, path="/metrics")
        if self._keys is None:
            log.warning(
                "authentication is disabled: anyone who can reach this address may use every "
                "service; for local use only",
                address=self.address,
            )
        log.info(
            "server started",
            address=self.address,
            services=[s.name for s in self._services],
            tls=self.tls,
            mutual_tls=bool(self._config.tls_client_ca_file),
            auth=self._config.auth,
        )
        return self.port

    async def stop(self, grace: float | None = None) -> None:
        """Graceful shutdown: health turns NOT_SERVING, services drain (the room service
        finishes the utterances in progress, which needs its sibling services in this server
        still answering: calls are accepted until then), then new calls are refused, open
        calls get ``grace`` seconds to finish, and the rest are cancelled."""
        grace = self._config.shutdown_grace_s if grace is None else grace
        log.info("shutting down", grace_s=grace)
        await self.health.enter_graceful_shutdown()
        drains = [s.drain() for s in self._services if s.drain]
        if drains:
            try:
                await asyncio.wait_for(asyncio.gather(*drains, return_exceptions=True), grace)
            except TimeoutError:
                log.warning("draining took longer than the grace period", grace_s=grace)
        await self._server.stop(grace)
        if self._metrics_http is not None:
            self._metrics_http.shutdown()
            self._metrics_http.server_close()
        for service in self._services:
            if service.stop:
                try:
                    await service.stop()
                except Exception:  # one service's cleanup must not block the others'
                    log.exception("service stop hook failed", service=service.name)
        log.info("server stopped")

    async def wait(self) -> None:
        """Waits until the server has stopped."""
        await self._server.wait_for_termination()


@contextlib.asynccontextmanager
async def running(services: Sequence[Service], config: ServerConfig):
    """Starts a server for the duration of an ``async with`` block (used by tests)."""
    server = ParleyServer(services, config)
    await server.start()
    try:
        yield server
    finally:
        await server.stop(grace=1.0)


async def serve(services: Sequence[Service], config: ServerConfig) -> None:
    """Runs a server until SIGTERM or SIGINT, then shuts it down gracefully."""
    server = ParleyServer(services, config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    try:
        await stop.wait()
    finally:
        await server.stop()


def with_port(config: ServerConfig, port: int) -> ServerConfig:
    """A copy of ``config`` listening on ``port``."""
    return dataclasses.replace(config, port=port)
