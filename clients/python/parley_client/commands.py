"""The client commands of the ``parley`` CLI, on top of the SDK.

Each command is an async function taking the parsed arguments and a connection, printing for
people, and returning an exit code. Errors become one line, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import grpc
import numpy as np
import soundfile

from parley.v1 import audio_pb2
from parley_client import join
from parley_client.audio import chunks, read_wav, write_wav
from parley_client.connection import Connection, ConnectionOptions
from parley_client.languages import table as language_table

RATE = 16_000


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--address",
        default=os.environ.get("PARLEY_ADDRESS", "127.0.0.1:50051"),
        help="host:port of the server (env PARLEY_ADDRESS; default: %(default)s)",
    )
    group.add_argument("--tls", action="store_true", help="connect with TLS")
    group.add_argument("--ca", help="PEM file of the CA that signed the server's certificate")
    group.add_argument("--cert", help="client certificate (PEM) for mutual TLS")
    group.add_argument("--key", help="client private key (PEM) for mutual TLS")
    group.add_argument(
        "--api-key",
        default=os.environ.get("PARLEY_API_KEY"),
        help="API key sent as a bearer token (env PARLEY_API_KEY)",
    )
    group.add_argument("--timeout", type=float, default=60.0, help="deadline per call, seconds")


def connection_options(args: argparse.Namespace) -> ConnectionOptions:
    """The connection flags as options."""
    return ConnectionOptions(
        tls=args.tls,
        root_certificates=args.ca,
        client_certificate=args.cert,
        client_key=args.key,
        api_key=args.api_key,
        timeout_s=args.timeout,
    )


def connect(args: argparse.Namespace) -> Connection:
    return Connection(args.address, connection_options(args))


def _load(path: str) -> np.ndarray:
    if not Path(path).is_file():
        raise ValueError(f"no such file: {path}")
    samples, rate = read_wav(path)
    from parley.audio import resample

    return resample(samples, rate, RATE)


# Compressed files are sent as they are; the server decodes them (Opus, FLAC).
SENT_AS_IS = {
    ".ogg": audio_pb2.AUDIO_ENCODING_OGG_OPUS,
    ".opus": audio_pb2.AUDIO_ENCODING_OGG_OPUS,
    ".webm": audio_pb2.AUDIO_ENCODING_WEBM_OPUS,
    ".flac": audio_pb2.AUDIO_ENCODING_FLAC,
}


OPUS_OUT = audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_OGG_OPUS, bitrate_bps=24_000)


def _recording(path: str) -> tuple[np.ndarray | bytes, int | None, float | None]:
    """A recording to send: 16 kHz samples, or a compressed file's bytes as they are; its
    encoding (None for samples) and, where libsndfile can tell, its length in seconds."""
    encoding = SENT_AS_IS.get(Path(path).suffix.lower())
    if encoding is None:
        samples = _load(path)
        return samples, None, samples.shape[0] / RATE
    if not Path(path).is_file():
        raise ValueError(f"no such file: {path}")
    try:
        seconds = float(soundfile.info(path).duration)
    except (soundfile.LibsndfileError, RuntimeError, ValueError):
        seconds = None
    return Path(path).read_bytes(), encoding, seconds


async def transcribe(args, parley: Connection) -> int:
    speech, encoding, total = _recording(args.file)
    config = parley.stt.config(args.language, args.model, RATE, args.translate)
    if encoding is not None:
        config.audio_format.CopyFrom(audio_pb2.AudioFormat(encoding=encoding))

    async def audio():
        if isinstance(speech, bytes):
            for start in range(0, len(speech), join.COMPRESSED_CHUNK):
                yield speech[start : start + join.COMPRESSED_CHUNK]
        else:
            for data in chunks(speech, RATE, 500):
                yield data

    await parley.stt.check(config)  # a refused model or language: its reason, not INTERNAL
    of = f"{total:.1f}" if total is not None else "?"
    async for response in parley.stt.stream(audio(), config):
        if response.HasField("result") and response.result.is_final:
            r = response.result
            start, end = (
                r.start_offset.ToMilliseconds() / 1000,
                r.end_offset.ToMilliseconds() / 1000,
            )
            print(f"[{start:6.1f}-{end:6.1f} s of {of}] ({r.language}) {r.text}", flush=True)
    return 0


async def translate(args, parley: Connection) -> int:
    targets = [t.strip() for t in args.to.split(",") if t.strip()]
    for t in await parley.translation.translate([args.text], args.source, targets, args.engine):
        print(f"{t.target_language}: {t.text}    [{t.route.summary or 'unchanged'}]")
    return 0


async def say(args, parley: Connection) -> int:
    speech = await parley.tts.synthesize(args.text, args.lang, args.voice, args.rate)
    path = write_wav(args.output, speech.samples, speech.rate)
    print(f"{path}: {speech.seconds:.2f} s at {speech.rate} Hz, voice {speech.voice}")
    return 0


async def voices(args, parley: Connection) -> int:
    for v in await parley.tts.voices(args.lang, args.engine):
        print(f"{v.name:<34} {v.engine:<10} {','.join(v.languages):<20} {v.sample_rate_hz} Hz")
    return 0


async def languages(args, parley: Connection) -> int:
    if args.table:
        models, pairs, voices = await asyncio.gather(
            parley.stt.models(), parley.translation.pairs(), parley.tts.voices()
        )
        print(language_table(models, pairs, voices), end="")
        return 0
    for pair in await parley.translation.pairs(args.source, args.target):
        print(f"{pair.source_language}>{pair.target_language:<4} {pair.route.summary}")
    return 0


async def room_create(args, parley: Connection) -> int:
    created = await parley.rooms.create(args.id, args.name, open_room=args.open)
    if args.open:
        print(f"room {created.room.room_id} created; open: no join token needed")
    else:
        print(f"room {created.room.room_id} created; join token {created.join_token}")
    return 0


async def room_list(args, parley: Connection) -> int:
    rooms = await parley.rooms.list()
    for room in rooms:
        people = ", ".join(
            f"{p.display_name} ({p.speak_language or '?'}>{p.listen_language})"
            for p in room.participants
        )
        print(f"{room.room_id:<16} {room.name:<24} {len(room.participants)} in room: {people}")
    if not rooms:
        print("no rooms")
    return 0


async def room_join(args, parley: Connection) -> int:
    if args.await_people and not args.input:
        raise ValueError("--await-people is for a speaker: give the recording with --input")
    speech, encoding, _ = _recording(args.input) if args.input else (None, None, None)
    session = parley.rooms.join(
        args.room,
        args.name,
        args.listen,
        args.speak,
        RATE,
        create=args.create,
        join_token=args.token or "",
        interim=args.interim,
        input_format=audio_pb2.AudioFormat(encoding=encoding) if encoding is not None else None,
        output_format=OPUS_OUT if args.output_format == "opus" else None,
    )
    return await join.run(session, args, speech)


# What to do about a refusal, by the command line's options rather than the protocol's fields.
_HINTS = (
    (grpc.StatusCode.PERMISSION_DENIED, "join_token", "give the room's token with --token"),
    (grpc.StatusCode.NOT_FOUND, "room", "create it with 'parley room create --id ROOM' or "
     "join with --create"),
    (grpc.StatusCode.UNAVAILABLE, "failed to connect", "is a Parley server running there? "
     "(--address)"),
)  # fmt: skip


async def run(command, args) -> int:
    """Runs a client command, turning every failure into one line on stderr."""
    try:
        async with connect(args) as parley:
            code = await command(args, parley)
        sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
        return code
    except grpc.aio.AioRpcError as exc:
        print(error_line(exc), file=sys.stderr)
    except BrokenPipeError:  # the reader went away (parley languages | head): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
    return 1


def error_line(exc: grpc.aio.AioRpcError) -> str:
    """``error: CODE: details (what to do)``: how a command reports a refused call."""
    return f"error: {exc.code().name}: {exc.details()}{hint(exc)}"


def hint(exc: grpc.aio.AioRpcError) -> str:
    """`` (what to do)`` for a refusal the command line can help with, else nothing."""
    details = exc.details() or ""
    for code, word, advice in _HINTS:
        if exc.code() == code and word in details:
            return f" ({advice})"
    return ""


def register(commands) -> None:
    """Adds the client commands to the ``parley`` CLI's sub-parsers."""

    def add(name: str, handler, help_text: str, parent=commands) -> argparse.ArgumentParser:
        parser = parent.add_parser(name, help=help_text, description=help_text)
        add_connection_arguments(parser)
        parser.set_defaults(client_command=handler)
        return parser

    p = add("transcribe", transcribe, "transcribe a sound file, printing each utterance")
    p.add_argument(
        "file",
        help="WAV (or any file libsndfile reads); .ogg, .opus, .webm (Opus) and .flac files are "
        "sent as they are, for the server to decode",
    )
    p.add_argument("--language", default="", help="language spoken; empty to detect")
    p.add_argument("--model", default="", help="recognition model; empty for the default")
    p.add_argument("--translate", action="store_true", help="output English, whatever was said")

    p = add("translate", translate, "translate a text into one or more languages")
    p.add_argument("text")
    p.add_argument("--to", required=True, help="target languages, comma-separated: es,fr")
    p.add_argument("--from", dest="source", required=True, help="language of the text: en")
    p.add_argument("--engine", default="", help="prefer this engine")

    p = add("say", say, "speak a text into a WAV file")
    p.add_argument("text")
    p.add_argument("--lang", required=True, help="language of the text")
    p.add_argument("-o", "--output", default="speech.wav", help="WAV file to write")
    p.add_argument("--voice", default="", help="voice name (see parley voices)")
    p.add_argument("--rate", type=int, default=0, help="sample rate; 0 for the voice's own")

    p = add("voices", voices, "list the voices")
    p.add_argument("--lang", default="", help="only voices of this language")
    p.add_argument("--engine", default="", help="only voices of this engine")

    p = add("languages", languages, "list the translatable language pairs and their routes")
    p.add_argument("--from", dest="source", default="", help="only pairs from this language")
    p.add_argument("--to", dest="target", default="", help="only pairs into this language")
    p.add_argument(
        "--table",
        action="store_true",
        help="a Markdown table of what the server hears, translates and speaks, per language",
    )

    room = commands.add_parser("room", help="create, list and join rooms")
    rooms = room.add_subparsers(dest="room_command", required=True, metavar="ACTION")
    p = add("create", room_create, "create a room", rooms)
    p.add_argument("--id", default="", help="room id; empty for a random one")
    p.add_argument("--name", default="", help="room name")
    p.add_argument(
        "--open", action="store_true", help="anyone who knows the id may join, with no token"
    )
    add("list", room_list, "list the rooms and who is in them", rooms)
    p = add(
        "join",
        room_join,
        "join a room: stream a recording, print captions, save what you hear",
        rooms,
    )
    join.add_arguments(p)
    p.add_argument(
        "--token",
        default=os.environ.get("PARLEY_JOIN_TOKEN"),
        help="join token of a room that is not open (env PARLEY_JOIN_TOKEN)",
    )
