"""Runs the gateway with uvicorn: ``parley gateway`` and ``python -m clients.gateway``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

import uvicorn

from clients.gateway.app import create_app
from clients.gateway.config import GatewayConfig
from parley import logs
from parley.settings import SettingsError, add_arguments, resolve

log = logs.get_logger(__name__)

DESCRIPTION = (
    "Serves the browser page and a WebSocket/HTTP API in front of a running RoomService "
    "(parley serve): each WebSocket is one participant's Join stream."
)


class _Server(uvicorn.Server):
    """uvicorn's server, telling the address it bound (the port may have been 0)."""

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        if self.started:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            reachable = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, shown)
            scheme = "https" if self.config.ssl_certfile else "http"
            log.info(
                "server started", address=f"{shown}:{port}", open=f"{scheme}://{reachable}:{port}/"
            )


async def serve(config: GatewayConfig) -> bool:
    """Serves until SIGINT or SIGTERM; logs ``server started`` with the bound address.

    Returns:
        False if the server could not start (uvicorn logged why).
    """
    server = _Server(
        uvicorn.Config(
            create_app(config),
            host=config.host,
            port=config.port,
            log_config=None,  # uvicorn's loggers go through Parley's structured logging
            ws="websockets-sansio",
            ws_max_size=config.max_message_bytes,
            timeout_graceful_shutdown=5,
            # HTTPS and WSS for browsers, when a certificate is configured.
            ssl_certfile=config.tls_cert_file or None,
            ssl_keyfile=config.tls_key_file or None,
        )
    )
    log.info("starting", rooms=config.rooms_address)
    await server.serve()
    return server.started


def main(argv: Sequence[str] | None = None, prog: str = "python -m clients.gateway") -> int:
    """Parses the gateway's flags (and environment), then serves. Returns the exit code."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser, GatewayConfig)
    add_arguments(parser, logs.LogConfig)
    args = parser.parse_args(argv)
    try:
        config = resolve(GatewayConfig, args)
        log_config = resolve(logs.LogConfig, args)
    except SettingsError as exc:
        print(f"error: {exc}")
        return 2
    logs.configure(log_config.log_level, log_config.log_format)
    return 0 if asyncio.run(serve(config)) else 1
