"""A real ``parley serve`` and a ``parley gateway`` in front of it, shared by the gateway tests,
and a WebSocket peer that records what the gateway sends."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Iterator

import pytest
import websockets

from tests.conftest import ServerProcess, start_process, tool

ALLOWED_ORIGIN = "http://allowed.example:3000"
KEY = "gateway-test-key-0123456789"


def _keep_reading(server: ServerProcess) -> None:
    """Drains the server's log after start, so that a full pipe never stalls it."""

    def read() -> None:
        assert server.process.stderr is not None
        for line in server.process.stderr:
            try:
                server.log.append(json.loads(line))
            except json.JSONDecodeError:
                continue

    threading.Thread(target=read, daemon=True).start()


def _stop(server: ServerProcess) -> None:
    if server.process.poll() is None:
        server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except Exception:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="package")
def rooms_server() -> Iterator[ServerProcess]:
    """``parley serve`` with the default models loaded before it reports started, requiring
    an API key as a deployment behind a gateway would."""
    env = {"PARLEY_STT_PRELOAD": "start", "PARLEY_AUTH": "required", "PARLEY_API_KEYS": KEY}
    server = start_process([tool("parley"), "serve"], env=env, timeout=120)
    _keep_reading(server)
    yield server
    _stop(server)


@pytest.fixture(scope="package")
def gateway(rooms_server: ServerProcess) -> Iterator[ServerProcess]:
    """``parley gateway`` on a free port, allowing one other origin."""
    server = start_process(
        # python -m runs the same code as the parley command, from this checkout.
        [sys.executable, "-m", "parley.cli", "gateway", "--port", "0"],
        env={
            "PARLEY_GATEWAY_ROOMS_ADDRESS": rooms_server.address,
            "PARLEY_GATEWAY_CORS_ORIGINS": ALLOWED_ORIGIN,
            "PARLEY_API_KEY": KEY,
        },
    )
    _keep_reading(server)
    yield server
    _stop(server)


class Peer:
    """A WebSocket participant: records every message; binary ones as bytes."""

    def __init__(self, connection) -> None:
        self.ws = connection
        self.messages: list = []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def join(cls, base: str, room: str, **query: str) -> Peer:
        url = f"{base.replace('http', 'ws', 1)}/ws/{room}?" + "&".join(
            f"{k}={v}" for k, v in query.items()
        )
        return cls(await websockets.connect(url, max_size=None))

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                self.messages.append(json.loads(message) if isinstance(message, str) else message)
                self._changed.set()
        except websockets.ConnectionClosed:
            pass  # the code and reason stay on the connection
        self._changed.set()

    @property
    def close_code(self) -> int | None:
        """The close code the gateway sent, once the socket is closed."""
        return self.ws.close_code

    @property
    def close_reason(self) -> str | None:
        return self.ws.close_reason

    def of(self, kind: str) -> list[dict]:
        return [m for m in self.messages if isinstance(m, dict) and m["type"] == kind]

    def binary(self) -> list[bytes]:
        return [m for m in self.messages if isinstance(m, bytes)]

    async def wait_for(self, predicate, within_s: float = 60.0):
        """Waits until ``predicate()`` is true (or the socket closed); returns its value."""
        async with asyncio.timeout(within_s):
            while True:
                value = predicate()
                if value or self._reader.done():
                    return value
                self._changed.clear()
                await self._changed.wait()

    async def closed(self, within_s: float = 10.0) -> int | None:
        """Waits until the gateway closed the socket and every message was read; returns
        the close code."""
        await asyncio.wait_for(asyncio.shield(self._reader), within_s)
        return self.close_code

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.wait_for(self._reader, 10)
