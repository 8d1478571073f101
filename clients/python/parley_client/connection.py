"""One place that builds the channel: address, TLS (and mutual TLS), credentials, deadlines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

from parley_client.rooms import Rooms
from parley_client.stt import SpeechToText
from parley_client.translate import Translator
from parley_client.tts import TextToSpeech


@dataclass(frozen=True)
class ConnectionOptions:
    """How to reach a Parley server.

    Attributes:
        tls: use TLS (implied by any certificate option).
        root_certificates: PEM file of the CA that signed the server's certificate; None uses
            the system's roots.
        client_certificate: PEM certificate for mutual TLS.
        client_key: PEM private key for mutual TLS.
        api_key: sent as ``authorization: Bearer <key>`` metadata on every call.
        timeout_s: deadline of unary calls, in seconds.
        server_name: TLS name to check when it differs from the address's host.
        channel_options: further gRPC channel arguments (a retry policy, message limits).
    """

    tls: bool = False
    root_certificates: str | None = None
    client_certificate: str | None = None
    client_key: str | None = None
    api_key: str | None = None
    timeout_s: float = 30.0
    server_name: str | None = None
    channel_options: tuple[tuple[str, str | int], ...] = ()


class _BearerToken(grpc.AuthMetadataPlugin):
    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, context, callback) -> None:
        callback((("authorization", f"Bearer {self._token}"),), None)


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


def make_channel(address: str, options: ConnectionOptions) -> grpc.aio.Channel:
    """A grpc.aio channel to ``address`` with the options' security."""
    channel_options = [("grpc.keepalive_time_ms", 30_000), *options.channel_options]
    if options.server_name:
        channel_options.append(("grpc.ssl_target_name_override", options.server_name))
    secure = options.tls or options.root_certificates or options.client_certificate
    if not secure:
        if options.api_key:
            # Call credentials need a secure channel; on a plain one the key goes as metadata.
            return grpc.aio.insecure_channel(
                address, options=channel_options, interceptors=_token_interceptors(options.api_key)
            )
        return grpc.aio.insecure_channel(address, options=channel_options)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_read(options.root_certificates),
        private_key=_read(options.client_key),
        certificate_chain=_read(options.client_certificate),
    )
    if options.api_key:
        credentials = grpc.composite_channel_credentials(
            credentials, grpc.metadata_call_credentials(_BearerToken(options.api_key))
        )
    return grpc.aio.secure_channel(address, credentials, options=channel_options)


class _WithToken:
    """Adds the bearer token to the calls of one kind on a plain-text channel (local use)."""

    def __init__(self, token: str) -> None:
        self._metadata = ("authorization", f"Bearer {token}")

    async def _call(self, continuation, details, request):
        metadata = grpc.aio.Metadata(*(details.metadata or ()), self._metadata)
        return await continuation(details._replace(metadata=metadata), request)


# grpc.aio files an interceptor under the first call kind it implements only, so each kind
# needs its own class.
class _UnaryUnaryToken(_WithToken, grpc.aio.UnaryUnaryClientInterceptor):
    intercept_unary_unary = _WithToken._call


class _UnaryStreamToken(_WithToken, grpc.aio.UnaryStreamClientInterceptor):
    intercept_unary_stream = _WithToken._call


class _StreamUnaryToken(_WithToken, grpc.aio.StreamUnaryClientInterceptor):
    intercept_stream_unary = _WithToken._call


class _StreamStreamToken(_WithToken, grpc.aio.StreamStreamClientInterceptor):
    intercept_stream_stream = _WithToken._call


def _token_interceptors(token: str) -> list:
    return [
        kind(token)
        for kind in (_UnaryUnaryToken, _UnaryStreamToken, _StreamUnaryToken, _StreamStreamToken)
    ]


class Connection:
    """A connection to a Parley server and a client for each of its services.

    Use as ``async with Connection(address) as parley:``; then ``parley.stt``,
    ``parley.translation``, ``parley.tts`` and ``parley.rooms``.
    """

    def __init__(self, address: str = "127.0.0.1:50051", options: ConnectionOptions | None = None):
        self.address = address
        self.options = options or ConnectionOptions()
        self.channel = make_channel(address, self.options)
        timeout = self.options.timeout_s
        self.stt = SpeechToText(self.channel, timeout)
        self.translation = Translator(self.channel, timeout)
        self.tts = TextToSpeech(self.channel, timeout)
        self.rooms = Rooms(self.channel, timeout)

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()
