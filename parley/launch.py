"""Command-line launch of a Parley server: flags and environment in, a running server out."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Sequence

from parley import logs
from parley.server import ServerConfig, ServerError, Service, serve
from parley.settings import SettingsError, add_arguments, resolve

ServiceFactory = Callable[[], Service]


def add_server_arguments(parser: argparse.ArgumentParser, port: int) -> None:
    """Adds the server's flags, with ``port`` as the default port."""
    add_arguments(parser, ServerConfig, defaults={"port": port})


def run_server(
    args: argparse.Namespace,
    factories: Sequence[ServiceFactory],
    port: int,
) -> int:
    """Resolves the server settings from ``args`` and the environment, then serves until a
    signal. Returns the process exit code."""
    try:
        config = resolve(ServerConfig, args, defaults={"port": port})
    except SettingsError as exc:
        print(f"error: {exc}")
        return 2
    logs.configure(config.log_level, config.log_format)
    try:
        asyncio.run(serve([make() for make in factories], config))
    except ServerError as exc:
        logs.get_logger("parley").error(str(exc))
        return 1
    return 0


def main(
    argv: Sequence[str] | None,
    *,
    prog: str,
    description: str,
    factories: Sequence[ServiceFactory],
    port: int,
) -> int:
    """Entry point of ``python -m services.<name>``."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_server_arguments(parser, port)
    args = parser.parse_args(argv)
    return run_server(args, factories, port)
