"""The Python SDK: TLS, mutual TLS and API keys on the wire; audio helpers."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from parley.server import ServerConfig, running
from parley_client import Connection, ConnectionOptions, from_pcm16, read_wav, to_pcm16, write_wav
from services.translate.config import TranslateConfig
from services.translate.servicer import service as translate_service

KEY = "sdk-test-key-0123456789"


def tls_config(certs, require_client: bool) -> ServerConfig:
    return ServerConfig(
        host="127.0.0.1",
        port=0,
        api_keys=KEY,
        tls_cert_file=str(certs / "server.pem"),
        tls_key_file=str(certs / "server.key"),
        tls_client_ca_file=str(certs / "ca.pem") if require_client else "",
    )


async def test_tls_with_api_key(certificates):
    async with running(
        [translate_service(TranslateConfig())], tls_config(certificates, False)
    ) as s:
        address = f"127.0.0.1:{s.port}"
        ca = str(certificates / "ca.pem")
        async with Connection(address, ConnectionOptions(root_certificates=ca, api_key=KEY)) as p:
            (spanish,) = await p.translation.translate(["Good morning"], "en", ["es"])
        assert "buen" in spanish.text.lower()
        # A wrong key is refused, and so is the server's certificate without the CA.
        wrong = ConnectionOptions(root_certificates=ca, api_key="not-the-key-0123456789")
        async with Connection(address, wrong) as p:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await p.translation.translate(["Good morning"], "en", ["es"])
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        no_ca = ConnectionOptions(tls=True, api_key=KEY, timeout_s=3)
        async with Connection(address, no_ca) as p:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await p.translation.translate(["Good morning"], "en", ["es"])
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_mutual_tls(certificates):
    translation = translate_service(TranslateConfig())
    async with running([translation], tls_config(certificates, True)) as s:
        address = f"127.0.0.1:{s.port}"
        mutual = ConnectionOptions(
            root_certificates=str(certificates / "ca.pem"),
            client_certificate=str(certificates / "client.pem"),
            client_key=str(certificates / "client.key"),
            api_key=KEY,
        )
        async with Connection(address, mutual) as parley:
            assert await parley.translation.pairs("en", "es")
        anonymous = ConnectionOptions(
            root_certificates=str(certificates / "ca.pem"), api_key=KEY, timeout_s=3
        )
        async with Connection(address, anonymous) as parley:
            with pytest.raises(grpc.aio.AioRpcError):
                await parley.translation.pairs("en", "es")


def test_pcm_and_wav_helpers(tmp_path):
    t = np.arange(16_000) / 16_000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    assert np.max(np.abs(from_pcm16(to_pcm16(tone)) - tone)) < 1e-4
    path = write_wav(tmp_path / "a" / "tone.wav", to_pcm16(tone), 16_000)
    samples, rate = read_wav(path)
    assert rate == 16_000 and samples.shape == tone.shape
