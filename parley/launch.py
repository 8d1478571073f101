"""Command-line launch of a Parley server: flags and environment in, a running server out."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from parley import logs, tracing
from parley.errors import ParleyError
from parley.server import ServerConfig, ServerError, Service, serve
from parley.settings import SettingsError, add_arguments, resolve


@dataclass(frozen=True)
class ServiceEntry:
    """How a launcher builds one service.

    Attributes:
        build: makes the Service; called with the resolved settings instance when ``settings``
            is set, else with no argument.
        settings: the service's settings dataclass (its fields become flags and environment
            variables), or None.
    """

    build: Callable[..., Service]
    settings: type | None = None

    def make(self, args: argparse.Namespace | None = None) -> Service:
        if self.settings is None:
            return self.build()
        return self.build(resolve(self.settings, args))


def add_server_arguments(
    parser: argparse.ArgumentParser, port: int, entries: Sequence[ServiceEntry] = ()
) -> None:
    """Adds the server's flags, with ``port`` as the default port, and each service's."""
    add_arguments(parser, ServerConfig, defaults={"port": port})
    add_arguments(parser, logs.LogConfig)
    seen: set[type] = set()
    for entry in entries:
        if entry.settings and entry.settings not in seen:
            seen.add(entry.settings)
            add_arguments(parser, entry.settings)


def run_server(
    args: argparse.Namespace,
    entries: Sequence[ServiceEntry],
    port: int,
    name: str = "parley",
) -> int:
    """Resolves the settings from ``args`` and the environment, then serves until a signal.
    Returns the process exit code."""
    try:
        config = resolve(ServerConfig, args, defaults={"port": port})
        log_config = resolve(logs.LogConfig, args)
        logs.configure(log_config.log_level, log_config.log_format, log_config.log_transcripts)
        if config.tracing:
            tracing.enable(name)
        services = [entry.make(args) for entry in entries]
    except (SettingsError, ParleyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(services, config))
    except (ServerError, ParleyError) as exc:
        logs.get_logger("parley").error(str(exc))
        return 1
    finally:
        tracing.shutdown()
    return 0


def main(
    argv: Sequence[str] | None,
    *,
    prog: str,
    description: str | None,
    entries: Sequence[ServiceEntry],
    port: int,
) -> int:
    """Entry point of ``python -m services.<name>``."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_server_arguments(parser, port, entries)
    args: Any = parser.parse_args(argv)
    # "python -m services.stt" traces as "parley-stt".
    return run_server(args, entries, port, name="parley-" + prog.rsplit(".", 1)[-1])
