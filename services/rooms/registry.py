"""The rooms of this process: creating, finding, admitting, and removing empty ones."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Callable

from parley.errors import AlreadyExists, InvalidInput, LimitExceeded, NotFound, quoted
from parley.logs import get_logger
from services.rooms.config import RoomsConfig
from services.rooms.room import Member, Room

log = get_logger(__name__)

ROOM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class RoomRegistry:
    """Every room of this server. It hears of each room's departures and end (RoomEvents):
    a room left empty is removed after its empty timeout, a closed one at once.

    Attributes:
        speech_for: makes a new room's speech (set when the engines are known).
    """

    room_type: type[Room] = Room  # what create() makes (a subclass shares rooms across replicas)

    def __init__(self, config: RoomsConfig) -> None:
        self._config = config
        self._rooms: dict[str, Room] = {}
        self._reapers: dict[str, asyncio.TimerHandle] = {}
        self.speech_for: Callable[[Room], object] | None = None

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
        room.events = self
        room.catch_up_after_s = self._config.catch_up_after_s
        room.catch_up_rate = self._config.catch_up_rate
        if self.speech_for is not None:
            room.speech = self.speech_for(room)
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
        """Forgets a room (a closed one, or a copy that must not be used)."""
        if self._rooms.get(room.room_id) is room:
            del self._rooms[room.room_id]
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

    # -- RoomEvents -------------------------------------------------------------------------------

    def left(self, room: Room, member: Member, reason: int) -> None:
        if not room.members and not room.closed:
            self._schedule_reap(room)

    def closed(self, room: Room) -> None:
        self.remove(room)

    def _schedule_reap(self, room: Room) -> None:
        loop = asyncio.get_running_loop()

        def reap() -> None:
            self._reapers.pop(room.room_id, None)
            if not room.members and self._rooms.get(room.room_id) is room:
                log.info("empty room removed", room=room.room_id)
                room.close("the room was empty")

        self._reapers[room.room_id] = loop.call_later(room.empty_timeout_s, reap)
