"""Structured logging for every Parley process.

One call to :func:`configure` routes both structlog loggers and the standard library's
``logging`` (grpc, libraries) through the same renderer: JSON lines for machines, or readable
key=value lines on a terminal.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field

import structlog

from parley.settings import option

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("auto", "json", "console")


@dataclass(frozen=True)
class LogConfig:
    """Logging."""

    log_level: str = field(
        default="info", metadata=option("PARLEY_LOG_LEVEL", "lowest log level", choices=LEVELS)
    )
    log_format: str = field(
        default="auto",
        metadata=option(
            "PARLEY_LOG_FORMAT",
            "log lines as json, console, or auto (console on a terminal)",
            choices=FORMATS,
        ),
    )
    log_transcripts: bool = field(
        default=False,
        metadata=option(
            "PARLEY_LOG_TRANSCRIPTS",
            "log what each room participant said and its translations (off: no transcript or "
            "audio is ever logged or written to disk)",
        ),
    )


_transcripts = False


def configure(level: str = "info", fmt: str = "auto", transcripts: bool = False) -> None:
    """Sets up logging to stderr.

    Args:
        level: lowest level written: debug, info, warning or error.
        fmt: ``json`` for one JSON object per line, ``console`` for people, ``auto`` for
            console on a terminal and JSON otherwise.
        transcripts: let :func:`transcript` write what people said (off by default).
    """
    global _transcripts
    _transcripts = transcripts
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A named structured logger, for example ``get_logger(__name__)``."""
    return structlog.stdlib.get_logger(name)


def transcript(**fields) -> None:
    """Logs what someone said, only when transcripts were opted into (PARLEY_LOG_TRANSCRIPTS);
    the one place any Parley code may log spoken or translated text."""
    if _transcripts:
        get_logger("parley.transcripts").info("transcript", **fields)
