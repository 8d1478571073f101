"""``parley health``: a container health check.

Asks a server's ``grpc.health.v1.Health/Check`` for one service (or for the whole server) and
exits 0 when the answer is SERVING, 1 otherwise (NOT_SERVING, an unknown service, an unreachable
or refused server, a deadline). An ``http://`` or ``https://`` address is fetched instead (the
gateway's status page): any 2xx answer is healthy. One line on standard output tells what was
seen. A failed check exits 1, never 2, which Docker reserves in health checks (only a usage
error exits 2).

Health checks need no API key (the servers answer them for anyone), so there is no key option.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import urllib.error
import urllib.request

DEFAULT_TIMEOUT_S = 5.0


def default_address() -> str:
    """``127.0.0.1`` and the port of this container's server (``PARLEY_PORT``, else 50051)."""
    return f"127.0.0.1:{os.environ.get('PARLEY_PORT') or 50051}"


def register(commands) -> None:
    """Adds ``health`` to the ``parley`` subcommands."""
    parser = commands.add_parser(
        "health",
        help="exit 0 when a server's gRPC health check says SERVING (container health checks)",
        description=__doc__.split("\n\n")[1].replace("\n", " ").replace("``", ""),
    )
    parser.add_argument(
        "address",
        nargs="?",
        default=None,
        help="host:port of the server, or an http(s):// URL "
        "(default: 127.0.0.1 and $PARLEY_PORT, else 127.0.0.1:50051)",
    )
    parser.add_argument(
        "service",
        nargs="?",
        default="",
        help="full service name, for example parley.v1.SpeechToTextService "
        "(default: the whole server)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help="seconds before giving up (default: %(default)s)",
    )
    tls = parser.add_argument_group("TLS (for servers started with PARLEY_TLS_CERT_FILE)")
    tls.add_argument("--tls", action="store_true", help="connect with TLS")
    tls.add_argument("--ca", help="PEM file of the CA that signed the server's certificate")
    tls.add_argument("--cert", help="client certificate (PEM), when the server requires mTLS")
    tls.add_argument("--key", help="private key (PEM) of that client certificate")
    tls.add_argument(
        "--server-name", help="name the server's certificate carries, when not the address's host"
    )


def run(args: argparse.Namespace) -> int:
    """Runs the check described by the parsed arguments; returns the exit code (0 or 1)."""
    address = args.address or default_address()
    if address.startswith(("http://", "https://")):
        healthy, said = _check_http(address, args.timeout)
    else:
        healthy, said = asyncio.run(_check_grpc(address, args))
    print(" ".join(filter(None, (address, args.service))) + f": {said}")
    return 0 if healthy else 1


def _check_http(url: str, timeout: float) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return 200 <= reply.status < 300, f"HTTP {reply.status}"
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"unreachable: {getattr(exc, 'reason', exc)}"


async def _check_grpc(address: str, args: argparse.Namespace) -> tuple[bool, str]:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from parley_client.connection import ConnectionOptions, make_channel

    options = ConnectionOptions(
        tls=args.tls,
        root_certificates=args.ca,
        client_certificate=args.cert,
        client_key=args.key,
        server_name=args.server_name,
    )
    try:
        channel = make_channel(address, options)
    except OSError as exc:  # an unreadable certificate file
        return False, f"error: {exc}"
    try:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout
        )
    except grpc.aio.AioRpcError as exc:
        details = exc.details()
        if exc.code() == grpc.StatusCode.NOT_FOUND and not details:  # the health server's way
            details = f"this server has no service named {args.service!r}"
        return False, f"{exc.code().name}: {details}"
    finally:
        await channel.close()
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    return reply.status == health_pb2.HealthCheckResponse.SERVING, status
