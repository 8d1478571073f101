"""Settings of the WebSocket gateway."""

from __future__ import annotations

from dataclasses import dataclass, field

from parley.settings import option
from parley_client.connection import ConnectionOptions


@dataclass(frozen=True)
class GatewayConfig:
    """Gateway: the RoomService it fronts, where it listens, and who may call it."""

    rooms_address: str = field(
        default="127.0.0.1:50051",
        metadata=option(
            "PARLEY_GATEWAY_ROOMS_ADDRESS", "host:port of the RoomService (parley serve)"
        ),
    )
    api_key: str = field(
        default="",
        repr=False,
        metadata=option(
            "PARLEY_API_KEY", "API key the gateway sends to the RoomService", metavar="KEY"
        ),
    )
    rooms_ca_file: str = field(
        default="",
        metadata=option(
            "PARLEY_GATEWAY_ROOMS_CA_FILE",
            "PEM CA of the RoomService's certificate; when set, the gateway connects with TLS",
            metavar="PATH",
        ),
    )
    rooms_cert_file: str = field(
        default="",
        metadata=option(
            "PARLEY_GATEWAY_ROOMS_CERT_FILE",
            "PEM client certificate, when the RoomService requires mutual TLS",
            metavar="PATH",
        ),
    )
    rooms_key_file: str = field(
        default="",
        metadata=option(
            "PARLEY_GATEWAY_ROOMS_KEY_FILE", "PEM private key of that certificate", metavar="PATH"
        ),
    )
    host: str = field(
        default="127.0.0.1",
        metadata=option(
            "PARLEY_GATEWAY_HOST", "address to listen on; 0.0.0.0 or [::] for every interface"
        ),
    )
    port: int = field(
        default=8000,
        metadata=option("PARLEY_GATEWAY_PORT", "HTTP port to listen on; 0 picks a free one"),
    )
    tls_cert_file: str = field(
        default="",
        metadata=option(
            "PARLEY_GATEWAY_TLS_CERT_FILE",
            "PEM certificate chain; with the key, the page and WebSocket are served over HTTPS/WSS",
            metavar="PATH",
        ),
    )
    tls_key_file: str = field(
        default="",
        metadata=option(
            "PARLEY_GATEWAY_TLS_KEY_FILE", "PEM private key of that certificate", metavar="PATH"
        ),
    )
    cors_origins: str = field(
        default="",
        metadata=option(
            "PARLEY_GATEWAY_CORS_ORIGINS",
            "origins (scheme://host:port) of other pages allowed to use the HTTP API and the "
            "WebSocket, comma-separated; * allows any; empty allows only the gateway's own page",
        ),
    )
    max_message_bytes: int = field(
        default=1_048_576,
        metadata=option(
            "PARLEY_GATEWAY_MAX_MESSAGE_BYTES",
            "largest WebSocket message accepted from a browser, in bytes",
        ),
    )
    rpc_timeout_s: float = field(
        default=10.0,
        metadata=option(
            "PARLEY_GATEWAY_RPC_TIMEOUT_S",
            "deadline of the RoomService calls behind the HTTP API (not of Join streams)",
        ),
    )

    def connection_options(self) -> ConnectionOptions:
        """How the gateway reaches the RoomService."""
        return ConnectionOptions(
            tls=bool(self.rooms_ca_file),
            root_certificates=self.rooms_ca_file or None,
            client_certificate=self.rooms_cert_file or None,
            client_key=self.rooms_key_file or None,
            api_key=self.api_key or None,
        )

    def allowed_origins(self) -> tuple[str, ...]:
        """The configured origins, without blanks or trailing slashes."""
        return tuple(o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip())
