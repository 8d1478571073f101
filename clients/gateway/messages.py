"""The gateway's JSON messages, made from RoomService events, and its error codes.

Everything the browser receives as text is one JSON object with a ``type``; the translated
speech arrives as binary messages (see :mod:`clients.gateway.bridge`). Field names follow the
Protobuf contract (``original_language``, ``language``), so the two APIs read alike.
"""

from __future__ import annotations

from typing import Any

import grpc

from parley.v1 import audio_pb2, rooms_pb2

# WebSocket close codes. 4000-4999 are free for applications: 4000 + the HTTP status that
# means the same, so that a browser's onclose handler can tell the reasons apart.
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_INTERNAL = 1011
_CLOSE_CODES = {
    grpc.StatusCode.INVALID_ARGUMENT: 4400,
    grpc.StatusCode.FAILED_PRECONDITION: 4400,
    grpc.StatusCode.OUT_OF_RANGE: 4400,
    # UNAUTHENTICATED concerns the gateway's own API key: an internal error (1011) for the page.
    grpc.StatusCode.PERMISSION_DENIED: 4403,
    grpc.StatusCode.NOT_FOUND: 4404,
    grpc.StatusCode.ALREADY_EXISTS: 4409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 4429,
    grpc.StatusCode.UNAVAILABLE: 4503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 4504,
}
_HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    # UNAUTHENTICATED is about the gateway's own API key, not the browser's: 502, the default.
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
# How the audio message names the binary message's encoding.
_ENCODINGS = {
    audio_pb2.AUDIO_ENCODING_LINEAR16: "pcm_s16le",
    audio_pb2.AUDIO_ENCODING_OGG_OPUS: "ogg_opus",
}
# A WebSocket close reason is at most 123 bytes of UTF-8.
_REASON_BYTES = 123


def close_code(code: grpc.StatusCode) -> int:
    """The WebSocket close code for a RoomService status code."""
    return _CLOSE_CODES.get(code, CLOSE_INTERNAL)


def http_status(code: grpc.StatusCode) -> int:
    """The HTTP status for a RoomService status code (502 for anything unexpected)."""
    return _HTTP_STATUS.get(code, 502)


def close_reason(text: str) -> str:
    """``text`` cut to fit a WebSocket close frame, on a character boundary."""
    data = text.encode()
    if len(data) <= _REASON_BYTES:
        return text
    return data[: _REASON_BYTES - 3].decode(errors="ignore") + "..."


def error(code: grpc.StatusCode, message: str) -> dict[str, Any]:
    """``{"type": "error"}``: why the stream ends, sent just before the socket closes."""
    return {"type": "error", "code": code.name, "message": message}


def participant(p: rooms_pb2.Participant, own_id: str) -> dict[str, Any]:
    """One person in the room, as the page shows them."""
    return {
        "id": p.participant_id,
        "name": p.display_name,
        "speak_language": p.speak_language,
        "listen_language": p.listen_language,
        "speaking": p.speaking,
        "muted": p.muted,
        "you": p.participant_id == own_id,
    }


def participants_update(people: list[rooms_pb2.Participant], own_id: str) -> dict[str, Any]:
    """``{"type": "participants_update", "count": N}``, with who they are."""
    return {
        "type": "participants_update",
        "count": len(people),
        "participants": [participant(p, own_id) for p in people],
    }


def joined(event: rooms_pb2.Joined) -> dict[str, Any]:
    """``{"type": "joined"}``: the first message, once the RoomService has let us in."""
    return {
        "type": "joined",
        "room_id": event.room.room_id,
        "room_name": event.room.name,
        "participant_id": event.participant_id,
    }


def caption(c: rooms_pb2.Caption, own_id: str) -> dict[str, Any]:
    """``{"type": "caption"}``: a partial or final caption of one utterance."""
    return {
        "type": "caption",
        "utterance_id": c.utterance_id,
        "speaker_id": c.speaker_id,
        "speaker_name": c.speaker_name,
        "is_final": c.is_final,
        "stability": round(c.stability, 3),
        "original_text": c.original_text,
        "original_language": c.original_language,
        "text": c.text,
        "language": c.language,
        "route": c.route,
        "self": c.speaker_id == own_id,
        "timings": timings(c.timings),
    }


def timings(t: rooms_pb2.UtteranceTimings) -> dict[str, int]:
    """The server's stage timings of an utterance, in ms (final captions and audio)."""
    return {
        "endpointing_ms": t.endpointing.ToMilliseconds(),
        "recognition_ms": t.recognition.ToMilliseconds(),
        "translation_ms": t.translation.ToMilliseconds(),
        "synthesis_first_chunk_ms": t.synthesis_first_chunk.ToMilliseconds(),
    }


def audio(
    begin: rooms_pb2.UtteranceAudioBegin, end: rooms_pb2.UtteranceAudioEnd, size: int
) -> dict[str, Any]:
    """``{"type": "audio"}``: describes the binary message that follows it."""
    return {
        "type": "audio",
        "utterance_id": begin.utterance_id,
        "speaker_id": begin.speaker_id,
        "language": begin.language,
        "text": begin.text,
        "voice": begin.voice,
        "encoding": _ENCODINGS.get(begin.audio_format.encoding, "pcm_s16le"),
        "sample_rate": begin.audio_format.sample_rate_hz,
        "channels": 1,
        "bytes": size,
        "duration_ms": end.duration.ToMilliseconds(),
        "dropped_chunks": end.dropped_chunks,
        "timings": timings(begin.timings),
    }


def notice(n: rooms_pb2.Notice) -> dict[str, Any]:
    """``{"type": "notice"}``: something the RoomService wants the person to know."""
    return {
        "type": "notice",
        "code": rooms_pb2.NoticeCode.Name(n.code).removeprefix("NOTICE_CODE_"),
        "severity": rooms_pb2.NoticeSeverity.Name(n.severity)
        .removeprefix("NOTICE_SEVERITY_")
        .lower(),
        "message": n.message,
        "utterance_id": n.utterance_id,
        "language": n.language,
    }


def gateway_notice(message: str, code: str = "INVALID_INPUT") -> dict[str, Any]:
    """A notice from the gateway itself, for example about a message it could not use."""
    return {
        "type": "notice",
        "code": code,
        "severity": "warning",
        "message": message,
        "utterance_id": "",
        "language": "",
    }


def language(item: rooms_pb2.RoomLanguage) -> dict[str, Any]:
    """One language of rooms: heard (speakable), spoken (a voice) and translated from where."""
    return {
        "language": item.language,
        "heard": item.heard,
        "spoken": item.spoken,
        "translated_from": list(item.translated_from),
    }


def room_closed(event: rooms_pb2.RoomClosed) -> dict[str, Any]:
    """``{"type": "room_closed"}``: the room was closed; the socket closes next."""
    return {"type": "room_closed", "reason": event.reason}
