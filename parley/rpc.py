"""Small helpers shared by servicers: the only layer that knows gRPC status codes."""

from __future__ import annotations

from typing import NoReturn

import grpc


async def not_implemented(context: grpc.aio.ServicerContext, service: str, method: str) -> NoReturn:
    """Ends a call with UNIMPLEMENTED and a message naming the method."""
    await context.abort(
        grpc.StatusCode.UNIMPLEMENTED,
        f"{service}/{method} is not implemented in this version of Parley",
    )
    raise AssertionError("unreachable: abort raises")  # pragma: no cover


def service_name(file_descriptor, short_name: str) -> str:
    """Full Protobuf name of a service declared in a generated ``*_pb2`` module's file."""
    return file_descriptor.services_by_name[short_name].full_name
