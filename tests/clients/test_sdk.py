"""The Python SDK: TLS, mutual TLS and API keys on the wire; audio helpers."""

from __future__ import annotations

import subprocess

import grpc
import numpy as np
import pytest

from parley_client import Connection, ConnectionOptions, from_pcm16, read_wav, to_pcm16, write_wav
from services.translate.config import TranslateConfig
from services.translate.servicer import service as translate_service


def openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=Test CA",
            "-keyout", "ca.key", "-out", "ca.pem", cwd=d)  # fmt: skip
    for name in ("server", "client"):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)  # fmt: skip
        (d / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "1", "-extfile", f"{name}.ext",
                "-out", f"{name}.pem", cwd=d)  # fmt: skip
    return d


class RecordMetadata(grpc.aio.ServerInterceptor):
    def __init__(self) -> None:
        self.seen: list[dict] = []

    async def intercept_service(self, continuation, details):
        self.seen.append(dict(details.invocation_metadata))
        return await continuation(details)


async def tls_server(certs, require_client: bool):
    recorder = RecordMetadata()
    server = grpc.aio.server(interceptors=[recorder])
    translation = translate_service(TranslateConfig())
    translation.register(server)
    await translation.start(None)
    credentials = grpc.ssl_server_credentials(
        [((certs / "server.key").read_bytes(), (certs / "server.pem").read_bytes())],
        root_certificates=(certs / "ca.pem").read_bytes() if require_client else None,
        require_client_auth=require_client,
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    return server, port, recorder, translation


async def test_tls_with_api_key(certificates):
    server, port, recorder, translation = await tls_server(certificates, require_client=False)
    try:
        options = ConnectionOptions(root_certificates=str(certificates / "ca.pem"), api_key="k1")
        async with Connection(f"127.0.0.1:{port}", options) as parley:
            (spanish,) = await parley.translation.translate(["Good morning"], "en", ["es"])
        assert "buenos" in spanish.text.lower()
        assert recorder.seen[-1]["authorization"] == "Bearer k1"
        # Without the CA the server's certificate is refused.
        async with Connection(f"127.0.0.1:{port}", ConnectionOptions(tls=True, timeout_s=3)) as p:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await p.translation.translate(["Good morning"], "en", ["es"])
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop(0)
        await translation.stop()


async def test_mutual_tls(certificates):
    server, port, _, translation = await tls_server(certificates, require_client=True)
    try:
        mutual = ConnectionOptions(
            root_certificates=str(certificates / "ca.pem"),
            client_certificate=str(certificates / "client.pem"),
            client_key=str(certificates / "client.key"),
        )
        async with Connection(f"127.0.0.1:{port}", mutual) as parley:
            assert await parley.translation.pairs("en", "es")
        anonymous = ConnectionOptions(root_certificates=str(certificates / "ca.pem"), timeout_s=3)
        async with Connection(f"127.0.0.1:{port}", anonymous) as parley:
            with pytest.raises(grpc.aio.AioRpcError):
                await parley.translation.pairs("en", "es")
    finally:
        await server.stop(0)
        await translation.stop()


def test_pcm_and_wav_helpers(tmp_path):
    t = np.arange(16_000) / 16_000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    assert np.max(np.abs(from_pcm16(to_pcm16(tone)) - tone)) < 1e-4
    path = write_wav(tmp_path / "a" / "tone.wav", to_pcm16(tone), 16_000)
    samples, rate = read_wav(path)
    assert rate == 16_000 and samples.shape == tone.shape
