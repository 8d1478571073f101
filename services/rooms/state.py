"""Rooms and their members: lifecycle, limits and broadcasting. No network code here."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from parley.audio import AudioFormat
from parley.errors import AlreadyExists, InvalidInput, LimitExceeded, NotFound, quoted
from parley.logs import get_logger
from parley.v1 import rooms_pb2
from services.rooms.config import RoomsConfig
from services.rooms.outbox import Outbox, Stalled

log = get_logger(__name__)

ROOM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


def check_language(code: str, what: str) -> str:
    """Returns ``code`` if it looks like an ISO 639 code, else raises InvalidInput."""
    if not LANGUAGE.match(code):
        raise InvalidInput(f"{what} {quoted(code)} is not a language code such as 'en' or 'pt-BR'")
    return code


@dataclass(eq=False)
class Member:
    """A participant, as the room sees it."""

    participant_id: str
    display_name: str
    speak_language: str
    listen_language: str
    input_format: AudioFormat
    output_format: AudioFormat
    delivery: int
    same_language_audio: bool
    interim_captions: bool
    outbox: Outbox
    join_time: float = field(default_factory=time.time)
    muted: bool = False
    speaking: bool = False

    @property
    def wants_audio(self) -> bool:
        return self.delivery != rooms_pb2.DELIVERY_MODE_CAPTIONS_ONLY

    @property
    def wants_captions(self) -> bool:
        return self.delivery != rooms_pb2.DELIVERY_MODE_AUDIO_ONLY

    def to_proto(self) -> rooms_pb2.Participant:
        joined = Timestamp()
        joined.FromNanoseconds(int(self.join_time * 1e9))
        return rooms_pb2.Participant(
            participant_id=self.participant_id,
            display_name=self.display_name,
            speak_language=self.speak_language,
            listen_language=self.listen_language,
            speaking=self.speaking,
            muted=self.muted,
            delivery=self.delivery or rooms_pb2.DELIVERY_MODE_AUDIO_AND_CAPTIONS,
            join_time=joined,
        )


@dataclass(eq=False)
class Room:
    """A room: its settings and members, in order of joining."""

    room_id: str
    name: str
    max_participants: int
    empty_timeout_s: float
    max_utterance_ms: int
    open: bool
    join_token: str
    create_time: float = field(default_factory=time.time)
    members: dict[str, Member] = field(default_factory=dict)
    closed: bool = False
    on_stalled: Callable[[Room, Member], None] | None = None

    def to_proto(self) -> rooms_pb2.Room:
        created = Timestamp()
        created.FromNanoseconds(int(self.create_time * 1e9))
        timeout = Duration()
        timeout.FromNanoseconds(int(self.empty_timeout_s * 1e9))
        return rooms_pb2.Room(
            room_id=self.room_id,
            name=self.name,
            limits=rooms_pb2.RoomLimits(
                max_participants=self.max_participants,
                empty_timeout=timeout,
                max_utterance_ms=self.max_utterance_ms,
            ),
            participants=[m.to_proto() for m in self.members.values()],
            create_time=created,
            open=self.open,
            listen_languages=sorted({m.listen_language for m in self.members.values()}),
        )

    def send(self, member: Member, event: rooms_pb2.JoinResponse) -> None:
        """Queues an event for one member; a stalled member is reported, never waited for."""
        try:
            member.outbox.put(event)
        except Stalled as exc:
            log.warning("listener stalled", room=self.room_id, participant=member.participant_id)
            if self.on_stalled:
                self.on_stalled(self, member)
            else:
                raise exc

    def broadcast(self, event: rooms_pb2.JoinResponse, exclude: Member | None = None) -> None:
        """Queues one event for every member but ``exclude`` (outboxes never change it)."""
        for member in list(self.members.values()):
            if member is not exclude:
                self.send(member, event)

    def others(self, member: Member) -> Iterable[Member]:
        return (m for m in list(self.members.values()) if m is not member)


class RoomRegistry:
    """Every room of this server."""

    room_type: type[Room] = Room  # what create() makes (a subclass shares rooms across replicas)

    def __init__(self, config: RoomsConfig) -> None:
        self._config = config
        self._rooms: dict[str, Room] = {}
        self._reapers: dict[str, asyncio.TimerHandle] = {}

    def create(
        self,
        room_id: str = "",
        name: str = "",
        max_participants: int = 0,
        empty_timeout_s: float = 0.0,
        max_utterance_ms: int = 0,
        open_room: bool = False,
    ) -> Room:
        """Creates a room.

        Raises:
            InvalidInput: for a malformed id or negative limits.
            AlreadyExists: if the id is taken.
            LimitExceeded: if the server holds max_rooms rooms.
        """
        if room_id and not ROOM_ID.match(room_id):
            raise InvalidInput(f"room id {quoted(room_id)}: use 1-64 letters, digits, '-' or '_'")
        if min(max_participants, empty_timeout_s, max_utterance_ms) < 0:
            raise InvalidInput("room limits must not be negative")
        if room_id in self._rooms:
            raise AlreadyExists(f"room {quoted(room_id)} already exists")
        if len(self._rooms) >= self._config.max_rooms:
            raise LimitExceeded(f"max_rooms: this server holds {self._config.max_rooms} rooms")
        room_id = room_id or secrets.token_urlsafe(8).replace("-", "x").replace("_", "y")
        room = self.room_type(
            room_id=room_id,
            name=name or room_id,
            max_participants=max_participants or self._config.max_participants,
            empty_timeout_s=empty_timeout_s or self._config.empty_timeout_s,
            max_utterance_ms=max_utterance_ms or self._config.room_max_utterance_ms,
            open=open_room,
            join_token=secrets.token_urlsafe(24),
        )
        self._rooms[room_id] = room
        self._schedule_reap(room)
        log.info("room created", room=room_id)
        return room

    def get(self, room_id: str) -> Room:
        """The room called ``room_id``. Raises NotFound."""
        room = self._rooms.get(room_id)
        if room is None:
            raise NotFound(f"no room {quoted(room_id)}")
        return room

    def list(self) -> list[Room]:
        """Every room, oldest first."""
        return sorted(self._rooms.values(), key=lambda r: r.create_time)

    def remove(self, room: Room) -> None:
        """Forgets a room (after it was closed)."""
        room.closed = True
        self._rooms.pop(room.room_id, None)
        handle = self._reapers.pop(room.room_id, None)
        if handle:
            handle.cancel()

    def admit(self, room: Room, member: Member) -> None:
        """Adds a member to a room.

        Raises:
            LimitExceeded: if the room is full.
        """
        if len(room.members) >= room.max_participants:
            raise LimitExceeded(
                f"max_participants: room {quoted(room.room_id)} is full ({room.max_participants})"
            )
        room.members[member.participant_id] = member
        handle = self._reapers.pop(room.room_id, None)
        if handle:
            handle.cancel()

    def discharge(self, room: Room, member: Member) -> bool:
        """Removes a member; returns False if it was not there. An empty room is removed after
        its empty timeout."""
        if room.members.pop(member.participant_id, None) is None:
            return False
        member.outbox.close()
        if not room.members and not room.closed:
            self._schedule_reap(room)
        return True

    def _schedule_reap(self, room: Room) -> None:
        loop = asyncio.get_running_loop()

        def reap() -> None:
            self._reapers.pop(room.room_id, None)
            if not room.members and self._rooms.get(room.room_id) is room:
                log.info("empty room removed", room=room.room_id)
                self.remove(room)

        self._reapers[room.room_id] = loop.call_later(room.empty_timeout_s, reap)
