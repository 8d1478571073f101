"""Where rooms live. The servicer finds, creates, admits to, describes, lists and closes rooms
through a :class:`Directory`: :class:`LocalDirectory` keeps them in this process (the default);
``services.rooms.cluster.RedisDirectory`` shares them between room-service replicas through
Redis (``PARLEY_ROOMS_REDIS_URL``). Either way the servicer works on local :class:`Room` objects
holding the members connected to this process; a room tells its directory of departures and of
its end (``RoomEvents``)."""

from __future__ import annotations

from typing import Protocol

from parley.v1 import rooms_pb2
from services.rooms.backends import Backends
from services.rooms.config import RoomsConfig
from services.rooms.fanout import FanOut
from services.rooms.registry import RoomRegistry
from services.rooms.room import Member, Room


class Directory(Protocol):
    """The rooms the servicer may use. ``registry`` holds this process's rooms."""

    registry: RoomRegistry

    async def start(self, backends: Backends) -> None:
        """Begins (connections, background work); ``backends`` serve remote utterances."""

    async def stop(self) -> None:
        """Ends background work and releases connections."""

    async def create(
        self,
        room_id: str = "",
        name: str = "",
        max_participants: int = 0,
        empty_timeout_s: float = 0.0,
        max_utterance_ms: int = 0,
        open_room: bool = False,
    ) -> Room:
        """Creates a room. Raises InvalidInput, AlreadyExists or LimitExceeded."""

    async def find(self, room_id: str) -> Room:
        """The room called ``room_id``, as a local object. Raises NotFound."""

    async def admit(self, room: Room, member: Member) -> None:
        """Adds a member. Raises LimitExceeded if the room is full."""

    async def describe(self, room_id: str) -> rooms_pb2.Room:
        """The room with every participant. Raises NotFound."""

    async def list(self) -> list[rooms_pb2.Room]:
        """Every room, oldest first."""

    async def close(self, room: Room, reason: str) -> int:
        """Closes a room for everyone; returns how many participants were disconnected."""

    def fanout(self, room: Room, backends: Backends, timeout_s: float) -> FanOut:
        """The fan-out of the utterances spoken in ``room`` by members of this process."""


class LocalDirectory:
    """Rooms in this process only."""

    def __init__(self, config: RoomsConfig) -> None:
        self.registry = RoomRegistry(config)

    async def start(self, backends: Backends) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def create(self, *args, **kwargs) -> Room:
        return self.registry.create(*args, **kwargs)

    async def find(self, room_id: str) -> Room:
        return self.registry.get(room_id)

    async def admit(self, room: Room, member: Member) -> None:
        self.registry.admit(room, member)

    async def describe(self, room_id: str) -> rooms_pb2.Room:
        return self.registry.get(room_id).to_proto()

    async def list(self) -> list[rooms_pb2.Room]:
        return [room.to_proto() for room in self.registry.list()]

    async def close(self, room: Room, reason: str) -> int:
        return room.close(reason)

    def fanout(self, room: Room, backends: Backends, timeout_s: float) -> FanOut:
        return FanOut(room, backends, timeout_s)


def make_directory(config: RoomsConfig) -> Directory:
    """The directory the settings ask for: Redis when ``redis_url`` is set, else local."""
    if config.redis_url:
        from services.rooms.cluster import RedisDirectory

        return RedisDirectory(config)
    return LocalDirectory(config)
