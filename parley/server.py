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

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from parley.logs import get_logger
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
    shutdown_grace_s: float = field(
        default=10.0,
        metadata=option(
            "PARLEY_SHUTDOWN_GRACE_S",
            "on SIGTERM/SIGINT, seconds open calls may take to finish before they are cancelled",
        ),
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
        ]


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
        self._server = grpc.aio.server(options=config.grpc_options())
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
            self.port = self._server.add_insecure_port(target)
        except RuntimeError as exc:
            raise ServerError(f"cannot listen on {target}: {exc}") from exc
        if self.port == 0:
            raise ServerError(f"cannot listen on {target}: address in use or not available")
        for name in ("", *(s.name for s in self._services)):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await self._server.start()
        for service in self._services:
            if service.start:
                await service.start(self)
            await self.health.set(service.name, health_pb2.HealthCheckResponse.SERVING)
        await self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "server started",
            address=self.address,
            services=[s.name for s in self._services],
        )
        return self.port

    async def stop(self, grace: float | None = None) -> None:
        """Graceful shutdown: health turns NOT_SERVING, new calls are refused, services drain,
        open calls get ``grace`` seconds to finish, then the rest are cancelled."""
        grace = self._config.shutdown_grace_s if grace is None else grace
        log.info("shutting down", grace_s=grace)
        await self.health.enter_graceful_shutdown()
        drains = [s.drain() for s in self._services if s.drain]
        stopping = asyncio.ensure_future(self._server.stop(grace))
        if drains:
            await asyncio.gather(*drains, return_exceptions=True)
        await stopping
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
