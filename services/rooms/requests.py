"""What a room's requests may ask for: CreateRoom's sizes, and the member a JoinRoom makes."""

from __future__ import annotations

import dataclasses
import secrets

from parley.audio import FLOAT32, LINEAR16, OPUS_OUTPUT
from parley.codecs import DEFAULT_BITRATE, OPUS_RATE
from parley.errors import InvalidInput
from parley.rpc import audio_format_from_proto
from parley.v1 import rooms_pb2
from services.rooms.config import RoomsConfig
from services.rooms.outbox import Outbox
from services.rooms.room import Member, check_language
from services.translate.keep import MAX_TERM_CHARS, MAX_TERMS

MAX_NAME_CHARS = 200  # a room's name, a closing reason


def check_create(request: rooms_pb2.CreateRoomRequest, config: RoomsConfig) -> None:
    """Refuses a CreateRoom whose sizes pass this server's limits (see docs/security.md).

    Raises:
        InvalidInput: naming the field and the limit.
    """
    limits = request.limits
    timeout = limits.empty_timeout.ToNanoseconds() / 1e9
    checks = (
        ("name", len(request.name), MAX_NAME_CHARS, "characters"),
        ("limits.max_participants", limits.max_participants, config.max_participants,
         "(PARLEY_ROOMS_MAX_PARTICIPANTS)"),
        ("limits.empty_timeout", timeout, config.max_empty_timeout_s,
         "s (PARLEY_ROOMS_MAX_EMPTY_TIMEOUT_S)"),
        ("limits.max_utterance_ms", limits.max_utterance_ms, config.room_max_utterance_ms,
         "(PARLEY_ROOMS_MAX_UTTERANCE_MS)"),
    )  # fmt: skip
    for field, value, limit, unit in checks:
        if value > limit:
            raise InvalidInput(f"{field} is {value:,g}; the most this server allows is "
                               f"{limit:,g} {unit}")  # fmt: skip
    glossary(request)


def glossary(request: rooms_pb2.CreateRoomRequest) -> tuple[str, ...]:
    """The distinct terms of CreateRoom.glossary.

    Raises:
        InvalidInput: for more than MAX_TERMS terms, or a term that is blank or too long.
    """
    if len(request.glossary) > MAX_TERMS:
        raise InvalidInput(
            f"glossary has {len(request.glossary):,} terms; the limit is {MAX_TERMS}"
        )
    for index, term in enumerate(request.glossary):
        if not term.strip() or len(term) > MAX_TERM_CHARS:
            raise InvalidInput(
                f"glossary[{index}] has {len(term):,} characters; each term needs 1 to "
                f"{MAX_TERM_CHARS}"
            )
    return tuple(dict.fromkeys(term.strip() for term in request.glossary))


def member_from(join: rooms_pb2.JoinRoom, config: RoomsConfig) -> Member:
    """The member a JoinRoom describes.

    Raises:
        InvalidInput: for a missing or malformed language, or an unusable audio format.
    """
    if not join.listen_language:
        raise InvalidInput("listen_language is required")
    listen = check_language(join.listen_language.strip(), "listen_language")
    speak = join.speak_language.strip()
    if speak:
        check_language(speak, "speak_language")
    input_format = audio_format_from_proto(join.input_format).validate(streaming=True)
    output_format = audio_format_from_proto(join.output_format)
    if output_format.encoding in OPUS_OUTPUT:  # one group per bitrate: Opus is always 48 kHz
        output_format = dataclasses.replace(
            output_format, sample_rate=OPUS_RATE, bitrate=output_format.bitrate or DEFAULT_BITRATE
        )
    output_format = dataclasses.replace(output_format, channels=1)
    output_format.validate(streaming=True, output=True)
    if output_format.encoding not in (LINEAR16, FLOAT32, *OPUS_OUTPUT):
        raise InvalidInput("output_format must be LINEAR16, FLOAT32, OGG_OPUS or OPUS")
    return Member(
        participant_id=secrets.token_hex(4),
        display_name=join.display_name.strip()[:64] or "Guest",
        speak_language=speak,
        listen_language=listen,
        input_format=input_format,
        output_format=output_format,
        delivery=join.delivery,
        same_language_audio=join.same_language_audio,
        interim_captions=join.interim_captions,
        outbox=Outbox(config.outbox_audio_chunks, config.outbox_events),
    )
