"""Who may call a Parley server, and how many streams each caller may hold open.

:class:`CallerGate` is a ``grpc.aio`` server interceptor. It admits a call when the caller sends
one of the server's API keys, as ``authorization: Bearer <key>`` or ``x-api-key: <key>``
metadata, and answers UNAUTHENTICATED otherwise. Health checks pass without a key (load
balancers and Kubernetes probes carry none); reflection needs one like every other service.

It also counts the streaming calls each caller holds open and answers RESOURCE_EXHAUSTED, naming
the limit, beyond ``max_streams_per_key``. A caller is its key; with authentication disabled it
is the peer's network address.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
from collections.abc import Iterable
from pathlib import Path

import grpc

from parley.errors import InvalidInput
from parley.rpc import around_calls, handler_kind

OPEN_PREFIXES = ("/grpc.health.v1.Health/",)
"""Methods any caller may use without a key."""


def load_keys(inline: str, path: str) -> tuple[str, ...]:
    """The API keys from a comma-separated list and from a file of one key per line.

    Blank lines and lines starting with ``#`` in the file are ignored.

    Raises:
        InvalidInput: if the file cannot be read or a key is shorter than 16 characters.
    """
    keys = [k.strip() for k in inline.split(",") if k.strip()]
    if path:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise InvalidInput(f"cannot read the API keys file {path}: {exc.strerror}") from exc
        keys += [line.strip() for line in text.splitlines() if line.strip()[:1] not in ("", "#")]
    short = [k for k in keys if len(k) < 16]
    if short:
        raise InvalidInput(
            f"{len(short)} API key(s) shorter than 16 characters: use long random keys, for "
            "example `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
    return tuple(dict.fromkeys(keys))


def credential(metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
    """The key a call carries, or None."""
    for name, value in metadata or ():
        if isinstance(value, bytes):
            continue
        if name == "authorization":
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        elif name == "x-api-key" and value.strip():
            return value.strip()
    return None


def _peer_host(peer: str) -> str:
    """``ipv4:127.0.0.1:5000`` -> ``ipv4:127.0.0.1``: one caller however many ports it uses."""
    return peer.rsplit(":", 1)[0] if peer.count(":") >= 2 else peer


class CallerGate(grpc.aio.ServerInterceptor):
    """Authenticates calls and bounds each caller's open streams.

    Args:
        keys: the accepted API keys; None disables authentication.
        max_streams_per_key: most streaming calls one caller may hold open; 0 for no limit.
    """

    def __init__(self, keys: Iterable[str] | None, max_streams_per_key: int) -> None:
        self._keys = None if keys is None else tuple(k.encode() for k in keys)
        self._max_streams = max_streams_per_key
        self.open_streams: collections.Counter[str] = collections.Counter()

    def _admits(self, key: str | None) -> bool:
        if key is None or self._keys is None:
            return False
        given = key.encode()
        # Compare against every key, so that timing does not tell which one nearly matched.
        return sum(hmac.compare_digest(given, k) for k in self._keys) > 0

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(OPEN_PREFIXES):
            return handler
        key = credential(handler_call_details.invocation_metadata)
        if self._keys is not None:
            if key is None:
                return _refuse(
                    handler,
                    grpc.StatusCode.UNAUTHENTICATED,
                    "missing API key: send metadata 'authorization: Bearer <key>' "
                    "(or 'x-api-key: <key>')",
                )
            if not self._admits(key):
                return _refuse(handler, grpc.StatusCode.UNAUTHENTICATED, "invalid API key")
        if self._max_streams and (handler.request_streaming or handler.response_streaming):
            return self._counted(handler, key)
        return handler

    def _counted(self, handler, key: str | None):
        """The handler, counting the call against its caller while it runs."""

        async def admit(context) -> str:
            if key is not None:
                who = "key:" + hashlib.sha256(key.encode()).hexdigest()[:12]
            else:
                who = "peer:" + _peer_host(context.peer())
            if self.open_streams[who] >= self._max_streams:
                await context.abort(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"limit max_streams_per_key reached: this caller already holds "
                    f"{self._max_streams} open streams (PARLEY_MAX_STREAMS_PER_KEY)",
                )
            self.open_streams[who] += 1
            return who

        def release(_context, who: str, _failed: bool) -> None:
            self.open_streams[who] -= 1
            if self.open_streams[who] <= 0:
                del self.open_streams[who]

        return around_calls(handler, admit, release)


def _refuse(handler, code: grpc.StatusCode, message: str):
    """A handler of the same shape as ``handler`` that ends the call with ``code``."""

    async def refuse(request, context):
        await context.abort(code, message)

    return handler._replace(**{handler_kind(handler): refuse})
