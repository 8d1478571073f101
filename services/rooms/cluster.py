"""Rooms shared by room-service replicas through Redis (``PARLEY_ROOMS_REDIS_URL``).

What lives in Redis (keys under ``parley:``):

- ``rooms`` (sorted set, score = create time) and ``room:{id}`` (hash): every room's record
  (name, limits, open, join token, create time), so that any replica creates, finds, lists and
  closes any room, and ``max_rooms`` holds across replicas;
- ``room:{id}:members`` (hash): each participant's public description (the Participant proto)
  and the replica it is connected to. Admission is one Lua script, so ``max_participants``
  holds across replicas;
- ``empty`` (sorted set, score = removal deadline): rooms with nobody in them, removed after
  their empty timeout by whichever replica sweeps first;
- ``replicas`` (set), ``replica:{id}`` (a heartbeat key that expires after
  ``replica_timeout_s``) and ``replica:{id}:rooms`` (the rooms where it has members): when a
  replica's heartbeat expires, the first replica to notice removes its members and announces
  them as left (DISCONNECTED); they can join again through any other replica.

Events go through pub/sub, one channel per room (``room:{id}:events``), to which every replica
with members in the room is subscribed: participant joined, updated and left, room closed, and
each utterance (final transcript and partial captions; never audio), each a versioned
``parley.v1.ReplicaMessage`` (``services.rooms.bus``). The speaker's replica
delivers to its own members as a single server does and publishes; every other replica delivers
the utterance to its own members with its own fan-out. Work is therefore done once per language
per replica (a room spread over 3 replicas may translate and synthesise a language 3 times).

The keys and Lua scripts are in ``services.rooms.redis_scripts``, the channels in
``services.rooms.bus``, a replica's copy of a room in ``services.rooms.replica_rooms``, the
heartbeats and sweeps in ``services.rooms.replicas``; this module is the Directory over them.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from parley.errors import AlreadyExists, EngineUnavailable, LimitExceeded, NotFound, quoted
from parley.logs import get_logger
from parley.v1 import replicas_pb2, rooms_pb2
from services.rooms import redis_scripts as keys
from services.rooms.backends import Backends
from services.rooms.bus import ReplicaBus, decode, encode
from services.rooms.config import RoomsConfig
from services.rooms.fanout import FanOut
from services.rooms.registry import RoomRegistry
from services.rooms.replica_rooms import ClusterFanOut, ClusterRegistry, ClusterRoom, apply
from services.rooms.replicas import ReplicaWatch
from services.rooms.room import Member, Room
from services.rooms.tasks import TaskOwner

log = get_logger(__name__)

RECORD_VERSION = 1


class RedisDirectory:
    """Rooms, members and events shared through Redis (see the module's docstring)."""

    def __init__(self, config: RoomsConfig) -> None:
        self.registry: RoomRegistry = ClusterRegistry(config)
        self.replica_id = secrets.token_hex(6)
        self._config = config
        self.redis = aioredis.from_url(config.redis_url, decode_responses=True)
        self.scripts = {name: self.redis.register_script(text)
                        for name, text in keys.SCRIPTS.items()}  # fmt: skip
        self.bus = ReplicaBus(self.redis, self.replica_id, self._receive)
        self._watch = ReplicaWatch(self, config.replica_timeout_s)
        self._tasks = TaskOwner(f"replica {self.replica_id}")
        self._joining: Counter[str] = Counter()  # admissions in progress, per room
        self._backends: Backends | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self, backends: Backends) -> None:
        self._backends = backends
        try:
            await self._watch.beat()
            await self.redis.sadd(keys.REPLICAS, self.replica_id)
            await self.bus.start()
        except RedisError as exc:
            raise EngineUnavailable(
                f"cannot reach the Redis of PARLEY_ROOMS_REDIS_URL: {exc}"
            ) from exc
        self._tasks.spawn(self._watch.heartbeat(), "heartbeat")
        self._tasks.spawn(self._watch.sweep(), "sweep")
        log.info("rooms shared through Redis", replica=self.replica_id)

    async def stop(self) -> None:
        await self.bus.stop()
        await self._tasks.cancel()
        try:
            await self.redis.delete(
                keys.alive_key(self.replica_id), keys.replica_rooms_key(self.replica_id)
            )
            await self.redis.srem(keys.REPLICAS, self.replica_id)
        except RedisError as exc:
            log.warning("could not deregister from Redis", error=str(exc))
        await self.redis.aclose()

    # -- the Directory interface ----------------------------------------------------------------

    async def create(
        self,
        room_id: str = "",
        name: str = "",
        max_participants: int = 0,
        empty_timeout_s: float = 0.0,
        max_utterance_ms: int = 0,
        open_room: bool = False,
    ) -> Room:
        existing = self.local(room_id) if room_id else None
        if existing is not None and not existing.members:
            existing.close("the room was closed")  # a cached copy: Redis says whether it exists
        room = self.registry.create(
            room_id, name, max_participants, empty_timeout_s, max_utterance_ms, open_room
        )
        self._adopt(room)
        try:
            created = await self.scripts["create"](
                keys=[keys.ROOMS, keys.room_key(room.room_id), keys.EMPTY],
                args=[
                    room.room_id,
                    self._config.max_rooms,
                    repr(room.create_time),
                    repr(room.create_time + room.empty_timeout_s),
                    *_record_fields(room),
                ],
            )
        except RedisError as exc:
            self.registry.remove(room)
            raise _unavailable(exc) from exc
        if created != 1:
            self.registry.remove(room)
            if created == 0:
                raise AlreadyExists(f"room {quoted(room.room_id)} already exists")
            raise LimitExceeded(
                f"max_rooms: the replicas hold {self._config.max_rooms} rooms together"
            )
        return room

    async def find(self, room_id: str) -> Room:
        try:
            record = await self.redis.hgetall(keys.room_key(room_id))
        except RedisError as exc:
            raise _unavailable(exc) from exc
        local = self.local(room_id)
        if not record:
            if local is not None:
                local.close("the room was closed")
            raise NotFound(f"no room {quoted(room_id)}")
        if local is not None:
            if local.join_token == record["join_token"]:
                return local
            local.close("the room was closed")  # a namesake replaced it
        room = self.registry.create(room_id, *_settings(record))
        room.join_token = record["join_token"]
        room.create_time = float(record["create_time"])
        self._adopt(room)
        return room

    async def admit_script(self, room: Room, member: Member):
        """Runs the atomic admission of ``member`` into ``room`` (limits across replicas)."""
        return await self.scripts["admit"](
            keys=[
                keys.room_key(room.room_id),
                keys.members_key(room.room_id),
                keys.replica_rooms_key(self.replica_id),
                keys.EMPTY,
            ],
            args=[member.participant_id, self._record(member), room.room_id],
        )

    async def admit(self, room: Room, member: Member) -> None:
        self._joining[room.room_id] += 1
        try:
            await self.bus.subscribe(room.room_id)
            result = await self.admit_script(room, member)
        except RedisError as exc:
            raise _unavailable(exc) from exc
        finally:
            self._joining[room.room_id] -= 1
            if not self._joining[room.room_id]:
                del self._joining[room.room_id]
        if result[0] == -1:
            room.close("the room was closed")
            raise NotFound(f"no room {quoted(room.room_id)}")
        if result[0] == 0:
            raise LimitExceeded(
                f"max_participants: room {quoted(room.room_id)} is full ({room.max_participants})"
            )
        try:
            self.registry.admit(room, member)
        except Exception:
            self.bus.later(lambda: self.redis.hdel(keys.members_key(room.room_id),
                                                   member.participant_id))  # fmt: skip
            raise
        if isinstance(room, ClusterRoom):  # the mirror of the others, fresh
            flat = result[1]
            room.remote = {
                pid: decode(raw, replicas_pb2.ReplicaMember).participant
                for pid, raw in zip(flat[::2], flat[1::2], strict=True)
                if pid not in room.members
            }

    async def describe(self, room_id: str) -> rooms_pb2.Room:
        return await describe_room(self.redis, room_id)

    async def list(self) -> list[rooms_pb2.Room]:
        return await list_rooms(self.redis)

    async def close(self, room: Room, reason: str) -> int:
        try:
            count = await self.scripts["close"](
                keys=[keys.ROOMS, keys.room_key(room.room_id), keys.members_key(room.room_id),
                      keys.EMPTY],
                args=[room.room_id],
            )  # fmt: skip
            closed = self.bus.message(closed=rooms_pb2.RoomClosed(reason=reason))
            await self.bus.publish_now(room.room_id, closed)
        except RedisError as exc:
            raise _unavailable(exc) from exc
        here = room.close(reason)
        return max(count, here)

    def fanout(self, room: Room, backends: Backends, timeout_s: float) -> FanOut:
        return ClusterFanOut(room, backends, timeout_s, self.bus)

    # -- RoomEvents of this replica's rooms -----------------------------------------------------

    def left(self, room: Room, member: Member, reason: int) -> None:
        """Forgets the member's record in Redis and tells the other replicas."""
        self.registry.left(room, member, reason)
        last_here = "1" if not room.members else "0"
        if reason == rooms_pb2.LEAVE_REASON_ROOM_CLOSED:
            # Closed here only (this replica is shutting down): the others see a disconnection.
            reason = rooms_pb2.LEAVE_REASON_DISCONNECTED
        left = rooms_pb2.JoinResponse(
            participant_left=rooms_pb2.ParticipantLeft(participant=member.to_proto(), reason=reason)
        )

        async def write() -> None:
            removed = await self.scripts["discharge"](
                keys=[
                    keys.room_key(room.room_id),
                    keys.members_key(room.room_id),
                    keys.EMPTY,
                    keys.replica_rooms_key(self.replica_id),
                ],
                args=[member.participant_id, room.room_id, repr(time.time()), last_here],
            )
            if removed == 1:  # else the room was closed, or a sweeper already said so
                await self.bus.publish_now(room.room_id, self.bus.message(participant_event=left))

        self.bus.later(write)

    def closed(self, room: Room) -> None:
        self.registry.closed(room)

    def share(self, room: ClusterRoom, event: rooms_pb2.JoinResponse) -> None:
        """Stores and publishes a participant event about one of this replica's members."""
        kind = event.WhichOneof("event")
        participant = getattr(event, kind).participant
        member = room.members.get(participant.participant_id)
        if member is None:
            return
        record = self._record(member)
        message = self.bus.message(participant_event=event)

        async def write() -> None:
            if kind == "participant_updated":
                await self.scripts["update"](
                    keys=[keys.members_key(room.room_id)], args=[member.participant_id, record]
                )
            await self.bus.publish_now(room.room_id, message)

        self.bus.later(write)

    # -- helpers --------------------------------------------------------------------------------

    def _receive(self, room_id: str, message: replicas_pb2.ReplicaMessage) -> None:
        room = self.local(room_id)
        if isinstance(room, ClusterRoom) and self._backends is not None:
            apply(room, message, self._backends, self._config.backend_timeout_s)

    async def unsubscribe_idle(self) -> None:
        """Leaves the channels of rooms where this replica no longer has members."""

        def keep(room_id: str) -> bool:
            room = self.local(room_id)
            return (room is not None and bool(room.members)) or bool(self._joining[room_id])

        await self.bus.unsubscribe_unless(keep)

    def local(self, room_id: str) -> Room | None:
        """This replica's copy of the room, if it has one."""
        try:
            return self.registry.get(room_id)
        except NotFound:
            return None

    def _adopt(self, room: Room) -> None:
        room.events = self
        if isinstance(room, ClusterRoom):
            room.directory = self

    def _record(self, member: Member) -> str:
        return encode(replicas_pb2.ReplicaMember(
            version=RECORD_VERSION, replica=self.replica_id, participant=member.to_proto()
        ))  # fmt: skip


async def describe_room(redis, room_id: str) -> rooms_pb2.Room:
    """A room as Redis records it, with every participant of every replica.

    Raises:
        NotFound: if there is no such room.
        EngineUnavailable: if Redis cannot be reached.
    """
    try:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.room_key(room_id))
            pipe.hgetall(keys.members_key(room_id))
            record, members = await pipe.execute()
    except RedisError as exc:
        raise _unavailable(exc) from exc
    if not record:
        raise NotFound(f"no room {quoted(room_id)}")
    return _room_proto(room_id, record, members)


async def list_rooms(redis) -> list[rooms_pb2.Room]:
    """Every room Redis records, oldest first."""
    try:
        ids = await redis.zrange(keys.ROOMS, 0, -1)
        async with redis.pipeline(transaction=False) as pipe:
            for room_id in ids:
                pipe.hgetall(keys.room_key(room_id))
                pipe.hgetall(keys.members_key(room_id))
            replies = await pipe.execute()
    except RedisError as exc:
        raise _unavailable(exc) from exc
    return [
        _room_proto(room_id, record, members)
        for room_id, record, members in zip(ids, replies[::2], replies[1::2], strict=True)
        if record
    ]


def _unavailable(exc: Exception) -> EngineUnavailable:
    return EngineUnavailable(f"the rooms' Redis (PARLEY_ROOMS_REDIS_URL) is unreachable: {exc}")


def _record_fields(room: Room) -> list:
    """A room's record in Redis, as HSET's field, value, field, value..."""
    record = {
        "name": room.name,
        "max_participants": room.max_participants,
        "empty_timeout_s": room.empty_timeout_s,
        "max_utterance_ms": room.max_utterance_ms,
        "open": int(room.open),
        "join_token": room.join_token,
        "create_time": repr(room.create_time),
    }
    return [item for pair in record.items() for item in pair]


def _settings(record: dict) -> tuple[str, int, float, int, bool]:
    """(name, max participants, empty timeout, max utterance, open) of a room's record."""
    return (
        record["name"],
        int(record["max_participants"]),
        float(record["empty_timeout_s"]),
        int(record["max_utterance_ms"]),
        record["open"] == "1",
    )


def _room_proto(room_id: str, record: dict, members: dict) -> rooms_pb2.Room:
    name, most, timeout, longest, is_open = _settings(record)
    shell = Room(room_id, name, most, timeout, longest, is_open, join_token="",
                 create_time=float(record["create_time"]))  # fmt: skip
    proto = shell.to_proto()
    participants = [decode(raw, replicas_pb2.ReplicaMember).participant for raw in members.values()]
    participants.sort(key=lambda p: p.join_time.ToNanoseconds())
    proto.participants.extend(participants)
    proto.listen_languages[:] = sorted({p.listen_language for p in participants})
    return proto
