"""Fixtures of the translation tests: the real Apertium engine and a real server on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import grpc
import pytest

from parley.server import ServerConfig, running
from parley.v1 import translate_pb2_grpc
from services.translate.config import TranslateConfig
from services.translate.engines.apertium import ApertiumEngine, discover
from services.translate.servicer import service

SERVER = ServerConfig(host="127.0.0.1", port=0, auth="disabled")


@pytest.fixture(scope="session")
def apertium() -> Iterator[ApertiumEngine]:
    """The Apertium engine over the installed pairs (see scripts/install-system.sh)."""
    modes = discover()
    if not modes:
        pytest.fail("no Apertium pair is installed: run scripts/install-system.sh")
    engine = ApertiumEngine(modes)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    """A channel to a TranslationService with the embedded defaults, in-process on a free
    port."""
    async with running([service(TranslateConfig())], SERVER) as server:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield channel


@pytest.fixture(scope="module")
def stub(channel) -> translate_pb2_grpc.TranslationServiceStub:
    return translate_pb2_grpc.TranslationServiceStub(channel)
