"""Room client: lifecycle calls and a participant's session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from parley.v1 import audio_pb2, rooms_pb2, rooms_pb2_grpc


class RoomSession:
    """One participant's Join stream: send audio and settings, iterate over events."""

    def __init__(self, stub: rooms_pb2_grpc.RoomServiceStub, join: rooms_pb2.JoinRoom) -> None:
        self._requests: asyncio.Queue[rooms_pb2.JoinRequest | None] = asyncio.Queue()
        self._requests.put_nowait(rooms_pb2.JoinRequest(join=join))
        self._call = stub.Join(self._iterate())
        self.participant_id = ""

    async def _iterate(self):
        while (request := await self._requests.get()) is not None:
            yield request

    def send_audio(self, data: bytes) -> None:
        """Queues a chunk of the participant's speech (in JoinRoom.input_format)."""
        self._requests.put_nowait(rooms_pb2.JoinRequest(audio=audio_pb2.AudioChunk(data=data)))

    def update(self, **settings) -> None:
        """Changes settings mid-call, for example ``update(listen_language="fr")``."""
        self._requests.put_nowait(
            rooms_pb2.JoinRequest(update_settings=rooms_pb2.UpdateSettings(**settings))
        )

    def leave(self) -> None:
        """Leaves the room; the events end after what is already on its way."""
        self._requests.put_nowait(rooms_pb2.JoinRequest(leave=rooms_pb2.LeaveRoom()))
        self._requests.put_nowait(None)

    async def events(self) -> AsyncIterator[rooms_pb2.JoinResponse]:
        """Every event the server sends, until the stream ends."""
        async for event in self._call:
            if event.HasField("joined"):
                self.participant_id = event.joined.participant_id
            yield event

    def cancel(self) -> None:
        self._call.cancel()


class Rooms:
    """Client of ``parley.v1.RoomService``."""

    def __init__(self, channel: grpc.aio.Channel, timeout_s: float) -> None:
        self._stub = rooms_pb2_grpc.RoomServiceStub(channel)
        self._timeout = timeout_s

    async def create(
        self, room_id: str = "", name: str = "", open_room: bool = False
    ) -> rooms_pb2.CreateRoomResponse:
        """Creates a room; unless ``open_room``, joining it needs the returned join token."""
        return await self._stub.CreateRoom(
            rooms_pb2.CreateRoomRequest(room_id=room_id, name=name, open=open_room),
            timeout=self._timeout,
        )

    async def get(self, room_id: str) -> rooms_pb2.Room:
        reply = await self._stub.GetRoom(
            rooms_pb2.GetRoomRequest(room_id=room_id), timeout=self._timeout
        )
        return reply.room

    async def list(self) -> list[rooms_pb2.Room]:
        rooms, token = [], ""
        while True:
            page = await self._stub.ListRooms(
                rooms_pb2.ListRoomsRequest(page_token=token), timeout=self._timeout
            )
            rooms.extend(page.rooms)
            if not page.next_page_token:
                return rooms
            token = page.next_page_token

    async def languages(self) -> list[rooms_pb2.RoomLanguage]:
        """What rooms hear (speak_language), translate into and speak (listen_language)."""
        reply = await self._stub.ListLanguages(
            rooms_pb2.ListLanguagesRequest(), timeout=self._timeout
        )
        return list(reply.languages)

    async def close(self, room_id: str, reason: str = "") -> int:
        reply = await self._stub.CloseRoom(
            rooms_pb2.CloseRoomRequest(room_id=room_id, reason=reason), timeout=self._timeout
        )
        return reply.participants_disconnected

    def join(
        self,
        room_id: str,
        name: str,
        listen: str,
        speak: str = "",
        rate: int = 16_000,
        create: bool = False,
        captions_only: bool = False,
        join_token: str = "",
        interim: bool = False,
        input_format: audio_pb2.AudioFormat | None = None,
        output_format: audio_pb2.AudioFormat | None = None,
    ) -> RoomSession:
        """Joins a room; audio in and out is 16-bit mono PCM at ``rate`` unless
        ``input_format`` or ``output_format`` says otherwise (for example
        ``AudioFormat(encoding=AUDIO_ENCODING_OGG_OPUS, bitrate_bps=24000)``: Opus out, or the
        WebM Opus a browser records in); ``interim`` asks for partial captions while people
        speak."""
        fmt = audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hz=rate)
        return RoomSession(
            self._stub,
            rooms_pb2.JoinRoom(
                room_id=room_id,
                display_name=name,
                speak_language=speak,
                listen_language=listen,
                input_format=input_format or fmt,
                output_format=output_format or fmt,
                delivery=rooms_pb2.DELIVERY_MODE_CAPTIONS_ONLY
                if captions_only
                else rooms_pb2.DELIVERY_MODE_AUDIO_AND_CAPTIONS,
                create_if_missing=create,
                join_token=join_token,
                interim_captions=interim,
            ),
        )
