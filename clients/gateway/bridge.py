"""One browser WebSocket bridged to one RoomService ``Join`` stream.

What the browser sends: binary messages of 16 kHz, 16-bit little-endian mono PCM (any size), or
with ``audio_in=webm_opus`` (``ogg_opus``) the WebM (Ogg) Opus stream MediaRecorder records, in
the pieces it gives; and optionally JSON text messages ``{"type": "update", ...}`` (change
languages, mute, rename) or ``{"type": "leave"}``. What it receives: JSON text messages (see
:mod:`clients.gateway.messages`) and, for each translated utterance, one binary message with the
utterance's whole speech, announced by a ``{"type": "audio"}`` message just before it: PCM in
that format, or with ``audio_out=ogg_opus`` one Ogg Opus file per utterance.

The gateway holds no room state of its own: every decision (languages, limits, who hears what)
is the RoomService's; the bridge only translates between the two protocols.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

import grpc
from fastapi import WebSocket, WebSocketDisconnect

from clients.gateway import messages
from parley.logs import get_logger
from parley.v1 import audio_pb2, rooms_pb2, rooms_pb2_grpc

log = get_logger(__name__)

RATE = 16_000
PCM16 = audio_pb2.AudioFormat(
    encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hz=RATE, channels=1
)
# Longest translated utterance forwarded whole (two minutes of speech); the rest is cut.
MAX_UTTERANCE_AUDIO_BYTES = RATE * 2 * 120
# After the browser leaves, how long the RoomService may take to end the stream politely.
LEAVE_GRACE_S = 2.0
# What the query's audio_in and audio_out may name, and the formats they mean.
AUDIO_IN = {
    "pcm": PCM16,
    "webm_opus": audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_WEBM_OPUS),
    "ogg_opus": audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_OGG_OPUS),
}
AUDIO_OUT = {
    "pcm": PCM16,
    "ogg_opus": audio_pb2.AudioFormat(
        encoding=audio_pb2.AUDIO_ENCODING_OGG_OPUS, bitrate_bps=24_000
    ),
}
# Starts of audio files that browsers record (MediaRecorder) or read from disk: not raw PCM.
CONTAINERS = {b"RIFF": "WAV", b"OggS": "Ogg", b"\x1aE\xdf\xa3": "WebM", b"fLaC": "FLAC"}


@dataclass(frozen=True)
class JoinParams:
    """What the WebSocket's query string asks for.

    Attributes:
        room_id: the room, from the path.
        target_lang: language the person wants to hear (``listen_language``).
        source_lang: language they speak; empty means detect it from each utterance.
        name: name shown to the others; empty means "Guest".
        interim: also send partial captions while someone speaks.
        audio_in: what the browser's binary messages carry (a key of :data:`AUDIO_IN`).
        audio_out: what the translated speech is sent as (a key of :data:`AUDIO_OUT`).
    """

    room_id: str
    target_lang: str
    source_lang: str = ""
    name: str = ""
    interim: bool = True
    audio_in: str = "pcm"
    audio_out: str = "pcm"

    def request(self) -> rooms_pb2.JoinRequest:
        """The JoinRoom that opens the stream."""
        return rooms_pb2.JoinRequest(
            join=rooms_pb2.JoinRoom(
                room_id=self.room_id,
                display_name=self.name,
                speak_language=self.source_lang,
                listen_language=self.target_lang,
                input_format=AUDIO_IN[self.audio_in],
                output_format=AUDIO_OUT[self.audio_out],
                interim_captions=self.interim,
            )
        )


class _Utterance:
    """Translated speech of one utterance, gathered until its end marker."""

    def __init__(self, begin: rooms_pb2.UtteranceAudioBegin) -> None:
        self.begin = begin
        self.data = bytearray()
        self.cut = False

    def add(self, chunk: bytes) -> None:
        room = MAX_UTTERANCE_AUDIO_BYTES - len(self.data)
        self.cut = self.cut or len(chunk) > room
        self.data += chunk[: max(room, 0)]


class Bridge:
    """Carries one participant between a WebSocket and a ``Join`` stream until either ends."""

    def __init__(
        self, websocket: WebSocket, stub: rooms_pb2_grpc.RoomServiceStub, params: JoinParams
    ) -> None:
        self._ws = websocket
        self._stub = stub
        self._params = params
        self._send_lock = asyncio.Lock()
        self._client_gone = False
        self._own_id = ""
        self._people: dict[str, rooms_pb2.Participant] = {}
        self._audio: dict[str, _Utterance] = {}
        self._closed_reason = ""

    async def run(self) -> None:
        """Joins the room, then relays both ways; closes the socket with the outcome.

        The socket must be accepted already. A refused join (unknown room, bad language, full
        room) is told as ``{"type": "error"}`` and a close code of 4000 + the HTTP status.
        """
        call = self._stub.Join()
        try:
            await call.write(self._params.request())
            first = await call.read()
        except grpc.aio.AioRpcError as exc:
            await self._fail(exc.code(), exc.details() or "the RoomService refused the join")
            return
        if first is grpc.aio.EOF or first.WhichOneof("event") != "joined":
            call.cancel()
            await self._fail(grpc.StatusCode.INTERNAL, "the RoomService did not answer the join")
            return
        self._own_id = first.joined.participant_id
        self._people = {p.participant_id: p for p in first.joined.room.participants}
        log.info("browser joined", room=self._params.room_id, participant=self._own_id)
        await self._send_json(messages.joined(first.joined))
        await self._send_roster()
        await self._relay(call)

    async def _relay(self, call) -> None:
        upstream = asyncio.create_task(self._upstream(call))
        downstream = asyncio.create_task(self._downstream(call))
        done, _ = await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
        if upstream in done and not downstream.done():
            # The browser left and LeaveRoom was sent: let the RoomService end the stream.
            await asyncio.wait({downstream}, timeout=LEAVE_GRACE_S)
        for task in (upstream, downstream):
            task.cancel()
        results = await asyncio.gather(upstream, downstream, return_exceptions=True)
        call.cancel()
        ended = results[1]
        if isinstance(ended, grpc.aio.AioRpcError):
            await self._fail(ended.code(), ended.details() or "the room stream broke")
        elif isinstance(ended, BaseException) and not isinstance(ended, asyncio.CancelledError):
            log.error("bridge failed", room=self._params.room_id, error=repr(ended))
            await self._close(messages.CLOSE_INTERNAL, "gateway error")
        else:
            await self._close(messages.CLOSE_NORMAL, self._closed_reason or "left the room")
        log.info("browser left", room=self._params.room_id, participant=self._own_id)

    async def _upstream(self, call) -> None:
        """Browser -> RoomService, until the browser goes; then leaves the room politely."""
        try:
            while True:
                message = await self._ws.receive()
                if message["type"] == "websocket.disconnect":
                    self._client_gone = True
                    break
                data = message.get("bytes")
                if data is not None:
                    await self._audio_in(call, data)
                elif not await self._control(call, message.get("text") or ""):
                    break
            with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
                await call.write(rooms_pb2.JoinRequest(leave=rooms_pb2.LeaveRoom()))
                await call.done_writing()
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
            return  # the stream ended; the downstream side reports why

    async def _audio_in(self, call, data: bytes) -> None:
        container = CONTAINERS.get(data[:4]) if self._params.audio_in == "pcm" else None
        if container:
            await self._send_json(
                messages.gateway_notice(
                    f"ignored a {container} file: send raw 16 kHz 16-bit mono PCM, no header "
                    "(or join with audio_in=webm_opus or ogg_opus to send what MediaRecorder "
                    "records)"
                )
            )
        elif data:
            await call.write(rooms_pb2.JoinRequest(audio=audio_pb2.AudioChunk(data=data)))

    async def _control(self, call, text: str) -> bool:
        """Handles one text message; returns False when the browser asked to leave."""
        try:
            request = json.loads(text)
            kind = request.get("type") if isinstance(request, dict) else None
        except ValueError:
            kind = None
        if kind == "leave":
            return False
        if kind == "update":
            update = _settings(request)
            if update is None:
                await self._send_json(
                    messages.gateway_notice(
                        "an update takes target_lang, source_lang (strings), muted (true/false) "
                        "or name (string)"
                    )
                )
            else:
                await call.write(rooms_pb2.JoinRequest(update_settings=update))
            return True
        await self._send_json(
            messages.gateway_notice(
                "ignored a text message: send audio as binary 16 kHz 16-bit mono PCM, and text "
                'only as JSON {"type": "update", ...} or {"type": "leave"}'
            )
        )
        return True

    async def _downstream(self, call) -> None:
        """RoomService -> browser, until the stream ends (EOF) or breaks (raises)."""
        while (event := await call.read()) is not grpc.aio.EOF:
            kind = event.WhichOneof("event")
            if kind == "caption":
                await self._send_json(messages.caption(event.caption, self._own_id))
            elif kind == "audio_begin":
                self._audio[event.audio_begin.utterance_id] = _Utterance(event.audio_begin)
            elif kind == "audio_chunk":
                utterance = self._audio.get(event.audio_chunk.utterance_id)
                if utterance is not None:
                    utterance.add(event.audio_chunk.data)
            elif kind == "audio_end":
                await self._send_audio(event.audio_end)
            elif kind in ("participant_joined", "participant_updated"):
                who = getattr(event, kind).participant
                self._people[who.participant_id] = who
                await self._send_roster()
            elif kind == "participant_left":
                self._people.pop(event.participant_left.participant.participant_id, None)
                await self._send_roster()
            elif kind == "notice":
                await self._send_json(messages.notice(event.notice))
            elif kind == "room_closed":
                self._closed_reason = f"room closed: {event.room_closed.reason}"
                await self._send_json(messages.room_closed(event.room_closed))

    async def _send_audio(self, end: rooms_pb2.UtteranceAudioEnd) -> None:
        utterance = self._audio.pop(end.utterance_id, None)
        if utterance is None:
            return
        if utterance.cut:
            await self._send_json(
                messages.gateway_notice(
                    "translated speech longer than two minutes was cut", code="AUDIO_DROPPED"
                )
            )
        await self._send_json(messages.audio(utterance.begin, end, len(utterance.data)))
        await self._send(bytes(utterance.data))

    async def _send_roster(self) -> None:
        await self._send_json(
            messages.participants_update(list(self._people.values()), self._own_id)
        )

    async def _send_json(self, message: dict[str, Any]) -> None:
        await self._send(json.dumps(message, ensure_ascii=False))

    async def _send(self, payload: str | bytes) -> None:
        """Sends one message; once the browser is gone, sends nothing more."""
        if self._client_gone:
            return
        async with self._send_lock:
            try:
                if isinstance(payload, bytes):
                    await self._ws.send_bytes(payload)
                else:
                    await self._ws.send_text(payload)
            except (WebSocketDisconnect, RuntimeError, OSError):
                self._client_gone = True

    async def _fail(self, code: grpc.StatusCode, details: str) -> None:
        log.info("join ended", room=self._params.room_id, code=code.name, details=details)
        await self._send_json(messages.error(code, details))
        await self._close(messages.close_code(code), details)

    async def _close(self, code: int, reason: str) -> None:
        if self._client_gone:
            return
        self._client_gone = True
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await self._ws.close(code, messages.close_reason(reason))


def _settings(request: dict[str, Any]) -> rooms_pb2.UpdateSettings | None:
    """The UpdateSettings of an ``{"type": "update"}`` message, or None if it is malformed."""
    fields = {
        "target_lang": ("listen_language", str),
        "source_lang": ("speak_language", str),
        "muted": ("muted", bool),
        "name": ("display_name", str),
    }
    update: dict[str, Any] = {}
    for key, value in request.items():
        if key == "type":
            continue
        if key not in fields or not isinstance(value, fields[key][1]):
            return None
        update[fields[key][0]] = value
    return rooms_pb2.UpdateSettings(**update) if update else None
