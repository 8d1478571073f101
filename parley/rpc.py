"""Small helpers shared by servicers: the only layer that knows gRPC status codes."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import NoReturn

import grpc
from google.protobuf.duration_pb2 import Duration

from parley import audio, codecs, errors
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
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.EngineUnavailable: grpc.StatusCode.UNAVAILABLE,
    errors.TimedOut: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def status_for(exc: errors.ParleyError) -> grpc.StatusCode:
    """The gRPC status code for a Parley error."""
    for cls in type(exc).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return grpc.StatusCode.INTERNAL


MAX_DETAILS = 1000  # characters of a status message: far under gRPC's 8 KB of metadata


async def abort_with(context: grpc.aio.ServicerContext, exc: errors.ParleyError) -> NoReturn:
    """Ends a call with the status code of ``exc`` and its message (cut to MAX_DETAILS: a
    message quotes clients' input through errors.quoted, and this is the net under it)."""
    details = str(exc)
    if len(details) > MAX_DETAILS:
        details = details[: MAX_DETAILS - 3] + "..."
    await context.abort(status_for(exc), details)
    raise AssertionError("unreachable: abort raises")  # pragma: no cover


_ENCODINGS = {
    audio_pb2.AUDIO_ENCODING_UNSPECIFIED: audio.LINEAR16,
    audio_pb2.AUDIO_ENCODING_LINEAR16: audio.LINEAR16,
    audio_pb2.AUDIO_ENCODING_FLOAT32: audio.FLOAT32,
    audio_pb2.AUDIO_ENCODING_WAV: audio.WAV,
    audio_pb2.AUDIO_ENCODING_OGG_OPUS: codecs.OGG_OPUS,
    audio_pb2.AUDIO_ENCODING_WEBM_OPUS: codecs.WEBM_OPUS,
    audio_pb2.AUDIO_ENCODING_OPUS: codecs.OPUS,
    audio_pb2.AUDIO_ENCODING_FLAC: codecs.FLAC,
    audio_pb2.AUDIO_ENCODING_MULAW: codecs.MULAW,
    audio_pb2.AUDIO_ENCODING_ALAW: codecs.ALAW,
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
        bitrate=message.bitrate_bps,
    )


def audio_format_to_proto(fmt: audio.AudioFormat) -> audio_pb2.AudioFormat:
    """The API message for a shared AudioFormat."""
    return audio_pb2.AudioFormat(
        encoding=_ENCODING_ENUMS[fmt.encoding],
        sample_rate_hz=fmt.sample_rate,
        channels=1,
        bitrate_bps=fmt.bitrate,
    )


def passthrough_serializer(message_type):
    """A response serializer that sends bytes as they are (a message serialized once for many
    streams) and serializes messages of ``message_type`` as usual."""

    def serialize(response) -> bytes:
        if isinstance(response, bytes):
            return response
        return message_type.SerializeToString(response)

    return serialize


@dataclass(frozen=True)
class Unreadable:
    """A request that is not a valid message, handed to the servicer instead of failing the
    call with a bare UNKNOWN: bytes that do not parse (for example a string field that is not
    UTF-8), or an enum value this version of the contract does not have."""

    explanation: str

    def error(self) -> errors.InvalidInput:
        return errors.InvalidInput(self.explanation)


def unknown_enum(message, path: str = "") -> str | None:
    """Where ``message`` (or a message inside it) holds an enum value its type does not have,
    as ``field.path: value``; None when every value is known. Proto3 keeps unknown values."""
    for field, value in message.ListFields():
        name = f"{path}{field.name}"
        values = value if field.is_repeated else (value,)
        if field.enum_type is not None:
            for number in values:
                if number not in field.enum_type.values_by_number:
                    known = ", ".join(v.name for v in field.enum_type.values)
                    return f"{name} has no value {number} (known: {known})"
        elif field.message_type is not None and not field.message_type.GetOptions().map_entry:
            for item in values:
                found = unknown_enum(item, f"{name}.")
                if found:
                    return found
    return None


def reader(message_type) -> Callable[[bytes], object]:
    """A request deserializer that never raises: bad bytes, and enum values the contract does
    not have, become :class:`Unreadable`."""
    name = message_type.DESCRIPTOR.name

    def read(data: bytes):
        try:
            message = message_type.FromString(data)
        except Exception as exc:  # DecodeError, or anything else the parser raises
            reason = str(exc).rsplit(": ", 1)[-1]
            return Unreadable(
                f"a {name} message cannot be decoded ({reason}); text fields must be valid UTF-8"
            )
        bad = unknown_enum(message)
        return message if bad is None else Unreadable(f"{name}.{bad}")

    return read


def readable(request):
    """``request`` itself, or InvalidInput if it could not be decoded."""
    if isinstance(request, Unreadable):
        raise request.error()
    return request


def _checked(behavior, response_streaming: bool):
    """A unary-request handler that answers INVALID_ARGUMENT for an undecodable request."""
    if response_streaming:

        async def streamed(request, context):
            if isinstance(request, Unreadable):
                await abort_with(context, request.error())
            async for response in behavior(request, context):
                yield response

        return streamed

    async def unary(request, context):
        if isinstance(request, Unreadable):
            await abort_with(context, request.error())
        return await behavior(request, context)

    return unary


async def first_message(requests: AsyncIterator, timeout_s: float, setting: str):
    """The first message of a request stream, or None if the client half-closed at once.

    Raises:
        TimedOut: if nothing came within ``timeout_s`` (0 waits for ever), naming ``setting``.
        InvalidInput: if the message could not be decoded.
    """
    try:
        first = await asyncio.wait_for(anext(aiter(requests), None), timeout_s or None)
    except TimeoutError:
        raise errors.TimedOut(
            f"no first message within {timeout_s:g} s of opening the stream ({setting})"
        ) from None
    return readable(first)


def register_servicer(server, servicer, service_descriptor, serializers=None) -> None:
    """Adds ``servicer`` for every method of ``service_descriptor``, like the generated
    ``add_*Servicer_to_server``, with optional response serializers per method name.

    Requests that cannot be decoded never fail the call with UNKNOWN: a unary request is
    answered INVALID_ARGUMENT, and a streamed one reaches the servicer as :class:`Unreadable`
    (see :func:`readable`), so that it decides whether the stream goes on."""
    from google.protobuf import symbol_database

    messages = symbol_database.Default()
    handlers = {}
    for method in service_descriptor.methods:
        request = messages.GetSymbol(method.input_type.full_name)
        response = messages.GetSymbol(method.output_type.full_name)
        kind = {
            (False, False): grpc.unary_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler,
        }[(method.client_streaming, method.server_streaming)]
        behavior = getattr(servicer, method.name)
        if not method.client_streaming:
            behavior = _checked(behavior, method.server_streaming)
        handlers[method.name] = kind(
            behavior,
            request_deserializer=reader(request),
            response_serializer=(serializers or {}).get(method.name, response.SerializeToString),
        )
    name = service_descriptor.full_name
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, handlers),))
    server.add_registered_method_handlers(name, handlers)


def handler_kind(handler: grpc.RpcMethodHandler) -> str:
    """The field of ``handler`` that holds its behavior: ``unary_unary``, ..., ``stream_stream``."""
    if handler.request_streaming:
        return "stream_stream" if handler.response_streaming else "stream_unary"
    return "unary_stream" if handler.response_streaming else "unary_unary"


def around_calls(handler: grpc.RpcMethodHandler, begin, end) -> grpc.RpcMethodHandler:
    """``handler`` with ``token = await begin(context)`` before each call and
    ``end(context, token, failed)`` once it is over, for interceptors. The behavior may be a
    coroutine or an async generator (the servicers' streams); ``begin`` may abort the call,
    and then ``end`` is not called."""
    kind = handler_kind(handler)
    behavior = getattr(handler, kind)
    if inspect.isasyncgenfunction(behavior):

        async def streamed(request, context):
            token, failed = await begin(context), True
            try:
                async for response in behavior(request, context):
                    yield response
                failed = False
            finally:
                end(context, token, failed)

        return handler._replace(**{kind: streamed})

    async def awaited(request, context):
        token, failed = await begin(context), True
        try:
            result = await behavior(request, context)
            failed = False
            return result
        finally:
            end(context, token, failed)

    return handler._replace(**{kind: awaited})


def duration(amount: float, per_second: int = 1) -> Duration:
    """A Duration of ``amount`` units, ``per_second`` of them making a second (seconds by
    default; pass a sample rate to convert samples). Negative amounts count as zero."""
    message = Duration()
    message.FromNanoseconds(int(max(amount, 0) * 1_000_000_000 // per_second))
    return message
