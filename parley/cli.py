"""The ``parley`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from parley import __version__
from parley.launch import add_server_arguments, run_server

DEFAULT_PORT = 50051


def _all_services():
    # Imported here so that `parley --help` stays instant.
    from services.rooms.servicer import ENTRY as rooms
    from services.stt.servicer import ENTRY as stt
    from services.translate.servicer import ENTRY as translate
    from services.tts.servicer import ENTRY as tts

    return [rooms, stt, translate, tts]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parley", description="Parley: real-time speech translation over gRPC."
    )
    parser.add_argument("--version", action="version", version=f"parley {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run all four services in one process",
        description="Runs RoomService, SpeechToTextService, TranslationService and "
        "TextToSpeechService in one process on one port, with the embedded defaults.",
    )
    add_server_arguments(serve, DEFAULT_PORT, _all_services())
    demo = commands.add_parser(
        "demo",
        help="a scripted room of four people in three languages, against a running server",
        description="Creates a room on a running Parley server, has four simulated people "
        "(English, Spanish, French) speak into it in turn, and prints what each one sees and "
        "hears, with the lag from the end of each line to the first translated audio.",
    )
    from parley_client import commands as client_commands

    client_commands.add_connection_arguments(demo)
    commands.add_parser(
        "gateway",
        # Its flags belong to clients.gateway (parley gateway --help lists them), imported only
        # when it runs, so that the other commands never load FastAPI.
        add_help=False,
        help="the WebSocket gateway and browser page, in front of a running RoomService",
    )
    client_commands.register(commands)
    from parley import healthcheck

    healthcheck.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "gateway":
        from clients.gateway.server import main as gateway

        return gateway(rest, prog="parley gateway")
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "serve":
        return run_server(args, _all_services(), DEFAULT_PORT)
    if args.command == "health":
        from parley import healthcheck

        return healthcheck.run(args)
    try:
        return _client(args)
    except KeyboardInterrupt:  # Ctrl-C: leave quietly, as a shell expects
        print("interrupted", file=sys.stderr)
        return 130


def _client(args) -> int:
    """Runs a client command (or the demo), every failure one line on stderr."""
    import asyncio

    import grpc

    from parley_client.commands import connection_options, error_line, run

    if getattr(args, "client_command", None):
        return asyncio.run(run(args.client_command, args))
    if args.command == "demo":
        from parley import demo

        try:
            return demo.main(args.address, connection_options(args))
        except grpc.aio.AioRpcError as exc:
            print(error_line(exc), file=sys.stderr)
            return 1
    raise AssertionError(f"unhandled command {args.command}")  # argparse rejects unknown ones


if __name__ == "__main__":
    sys.exit(main())
