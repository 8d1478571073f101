"""Typed errors that engines raise and servicers map to gRPC status codes.

Engines know nothing of gRPC: they raise these, and :func:`parley.rpc.abort_with` turns each
into its status code with the message unchanged.
"""

from __future__ import annotations


class ParleyError(Exception):
    """Base class of every error Parley reports to a caller."""


class InvalidInput(ParleyError):
    """The request itself is wrong (bad audio, empty text, unknown voice): INVALID_ARGUMENT."""


class UnsupportedLanguage(InvalidInput):
    """A language or language pair is not available: INVALID_ARGUMENT naming what is."""


class OutOfOrder(ParleyError):
    """A message came at the wrong point of a stream: FAILED_PRECONDITION."""


class LimitExceeded(ParleyError):
    """A configured limit was reached: RESOURCE_EXHAUSTED naming the limit."""


class NotFound(ParleyError):
    """A named thing (room, model) does not exist: NOT_FOUND."""


class EngineUnavailable(ParleyError):
    """An engine cannot run now (missing model, API down, process died): UNAVAILABLE."""


class AlreadyExists(ParleyError):
    """A thing with that name already exists: ALREADY_EXISTS."""


class PermissionDenied(ParleyError):
    """The caller is known but may not do this (a wrong join token): PERMISSION_DENIED."""


class TimedOut(ParleyError):
    """The caller took too long (a stream opened and left silent): DEADLINE_EXCEEDED."""


QUOTE_CHARS = 40


def quoted(value: object, limit: int = QUOTE_CHARS) -> str:
    """``value`` as an error message shows what a client sent: quoted, and cut to its first
    ``limit`` characters (saying how long it was) so that no message grows with the input."""
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text):,} characters)"
