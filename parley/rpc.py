"""Small helpers shared by servicers: the only layer that knows gRPC status codes."""

from __future__ import annotations

from typing import NoReturn

import grpc

from parley import audio, errors
from parley.v1 import audio_pb2


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


_CODES = {
    errors.UnsupportedLanguage: grpc.StatusCode.INVALID_ARGUMENT,
    errors.InvalidInput: grpc.StatusCode.INVALID_ARGUMENT,
    errors.OutOfOrder: grpc.StatusCode.FAILED_PRECONDITION,
    errors.LimitExceeded: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.EngineUnavailable: grpc.StatusCode.UNAVAILABLE,
}


def status_for(exc: errors.ParleyError) -> grpc.StatusCode:
    """The gRPC status code for a Parley error."""
    for cls in type(exc).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return grpc.StatusCode.INTERNAL


async def abort_with(context: grpc.aio.ServicerContext, exc: errors.ParleyError) -> NoReturn:
    """Ends a call with the status code of ``exc`` and its message."""
    await context.abort(status_for(exc), str(exc))
    raise AssertionError("unreachable: abort raises")  # pragma: no cover


_ENCODINGS = {
    audio_pb2.AUDIO_ENCODING_UNSPECIFIED: audio.LINEAR16,
    audio_pb2.AUDIO_ENCODING_LINEAR16: audio.LINEAR16,
    audio_pb2.AUDIO_ENCODING_FLOAT32: audio.FLOAT32,
    audio_pb2.AUDIO_ENCODING_WAV: audio.WAV,
}
_ENCODING_ENUMS = {v: k for k, v in _ENCODINGS.items() if k != audio_pb2.AUDIO_ENCODING_UNSPECIFIED}


def audio_format_from_proto(
    message: audio_pb2.AudioFormat, default_rate: int = 16_000
) -> audio.AudioFormat:
    """The shared AudioFormat for a request's format; unset fields take the API defaults.

    Raises:
        InvalidInput: for an encoding value this server does not know.
    """
    encoding = _ENCODINGS.get(message.encoding)
    if encoding is None:
        raise errors.InvalidInput(f"unknown audio encoding value {message.encoding}")
    return audio.AudioFormat(
        encoding=encoding,
        sample_rate=message.sample_rate_hz or default_rate,
        channels=message.channels or 1,
    )


def audio_format_to_proto(fmt: audio.AudioFormat) -> audio_pb2.AudioFormat:
    """The API message for a shared AudioFormat."""
    return audio_pb2.AudioFormat(
        encoding=_ENCODING_ENUMS[fmt.encoding], sample_rate_hz=fmt.sample_rate, channels=1
    )
