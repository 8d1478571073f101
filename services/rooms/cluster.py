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
each utterance (final transcript and partial captions; never audio). The speaker's replica
delivers to its own members as a single server does and publishes; every other replica delivers
the utterance to its own members with its own fan-out. Work is therefore done once per language
per replica (a room spread over 3 replicas may translate and synthesise a language 3 times).
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from google.protobuf.duration_pb2 import Duration
from redis.exceptions import RedisError

from parley.audio import AudioFormat
from parley.errors import AlreadyExists, EngineUnavailable, LimitExceeded, NotFound, quoted
from parley.logs import get_logger
from parley.v1 import rooms_pb2
from services.rooms.backends import Backends
from services.rooms.config import RoomsConfig
from services.rooms.fanout import FanOut, Utterance
from services.rooms.outbox import Outbox
from services.rooms.registry import RoomRegistry
from services.rooms.room import Member, Room

log = get_logger(__name__)

PREFIX = "parley:"
ROOMS = PREFIX + "rooms"
EMPTY = PREFIX + "empty"
REPLICAS = PREFIX + "replicas"
SHARED_EVENTS = ("participant_joined", "participant_updated")

# KEYS: rooms, room, empty. ARGV: id, max_rooms, create_time, empty deadline, field, value...
_CREATE = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
return 1
"""
# KEYS: room, members, replica's rooms, empty. ARGV: participant id, record, room id.
_ADMIT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local most = tonumber(redis.call('HGET', KEYS[1], 'max_participants'))
if redis.call('HLEN', KEYS[2]) >= most then return {0} end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('ZREM', KEYS[4], ARGV[3])
return {1, redis.call('HGETALL', KEYS[2])}
"""
# KEYS: room, members, empty, replica's rooms. ARGV: participant id, room id, now, last here.
_DISCHARGE = """
local removed = redis.call('HDEL', KEYS[2], ARGV[1])
if ARGV[4] == '1' then redis.call('SREM', KEYS[4], ARGV[2]) end
if removed == 1 and redis.call('HLEN', KEYS[2]) == 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  local timeout = tonumber(redis.call('HGET', KEYS[1], 'empty_timeout_s'))
  redis.call('ZADD', KEYS[3], tonumber(ARGV[3]) + timeout, ARGV[2])
end
return removed
"""
# KEYS: members. ARGV: participant id, record. Never brings back someone who left.
_UPDATE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 1
"""
# KEYS: rooms, room, members, empty. ARGV: room id. Returns the members it had, -1 if none.
_CLOSE = """
local count = redis.call('HLEN', KEYS[3])
local existed = redis.call('DEL', KEYS[2])
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
if existed == 0 then return -1 end
return count
"""
# KEYS: rooms, room, members, empty. ARGV: room id, now. Removes a room empty past its deadline.
_REAP = """
local deadline = redis.call('ZSCORE', KEYS[4], ARGV[1])
if not deadline or tonumber(deadline) > tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[4], ARGV[1])
if redis.call('HLEN', KEYS[3]) > 0 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
"""


def _room_key(room_id: str) -> str:
    return f"{PREFIX}room:{room_id}"


def _members_key(room_id: str) -> str:
    return f"{PREFIX}room:{room_id}:members"


def _channel(room_id: str) -> str:
    return f"{PREFIX}room:{room_id}:events"


def _alive_key(replica: str) -> str:
    return f"{PREFIX}replica:{replica}"


def _replica_rooms_key(replica: str) -> str:
    return f"{PREFIX}replica:{replica}:rooms"


def _b64(message) -> str:
    return base64.b64encode(message.SerializeToString()).decode()


def _participant(text: str) -> rooms_pb2.Participant:
    return rooms_pb2.Participant.FromString(base64.b64decode(text))


def _duration(nanos: int) -> Duration:
    value = Duration()
    value.FromNanoseconds(nanos)
    return value


@dataclass(eq=False)
class ClusterRoom(Room):
    """A room as one replica sees it: its own members (``members``) and a mirror of the
    others' (``remote``), kept up to date by the room's events."""

    directory: Any = None  # the RedisDirectory that shares its participant events
    remote: dict[str, rooms_pb2.Participant] = field(default_factory=dict)
    proxies: dict[str, Member] = field(default_factory=dict)  # remote speakers' stand-ins
    remote_speakers: dict[str, asyncio.Queue] = field(default_factory=dict)

    def to_proto(self) -> rooms_pb2.Room:
        proto = super().to_proto()
        others = [p for pid, p in self.remote.items() if pid not in self.members]
        everyone = [*(m.to_proto() for m in self.members.values()), *others]
        everyone.sort(key=lambda p: p.join_time.ToNanoseconds())  # in order of joining
        del proto.participants[:]
        proto.participants.extend(everyone)
        languages = set(proto.listen_languages) | {p.listen_language for p in others}
        proto.listen_languages[:] = sorted(languages)
        return proto

    def broadcast(self, event: rooms_pb2.JoinResponse, exclude: Member | None = None) -> None:
        """Queues an event for this replica's members; participant events about them are
        shared with the other replicas."""
        super().broadcast(event, exclude)
        if self.directory is not None and event.WhichOneof("event") in SHARED_EVENTS:
            self.directory.share(self, event)

    def deliver_local(self, event: rooms_pb2.JoinResponse) -> None:
        """Queues an event from another replica for this replica's members."""
        Room.broadcast(self, event)


class _ClusterRegistry(RoomRegistry):
    room_type = ClusterRoom


class ClusterFanOut(FanOut):
    """The fan-out of a local speaker: delivers here and publishes for the other replicas."""

    def __init__(self, room: Room, backends: Backends, timeout_s: float, directory) -> None:
        super().__init__(room, backends, timeout_s)
        self._directory = directory

    def partial(self, speaker: Member, utterance_id: str, text: str, language: str, stability):
        super().partial(speaker, utterance_id, text, language, stability)
        self._directory.publish(
            self._room.room_id,
            {
                "kind": "partial",
                "speaker": _b64(speaker.to_proto()),
                "utterance_id": utterance_id,
                "text": text,
                "language": language,
                "stability": stability,
            },
        )

    async def deliver(self, utterance: Utterance) -> None:
        self._directory.publish(
            self._room.room_id,
            {
                "kind": "utterance",
                "speaker": _b64(utterance.speaker.to_proto()),
                "utterance_id": utterance.utterance_id,
                "text": utterance.text,
                "language": utterance.language,
                "start_ns": utterance.start_offset.ToNanoseconds(),
                "end_ns": utterance.end_offset.ToNanoseconds(),
                "endpointing_s": utterance.endpointing_s,
                "recognition_s": utterance.recognition_s,
            },
        )
        await super().deliver(utterance)


class RedisDirectory:
    """Rooms, members and events shared through Redis (see the module's docstring)."""

    def __init__(self, config: RoomsConfig) -> None:
        self.registry: RoomRegistry = _ClusterRegistry(config)
        self.replica_id = secrets.token_hex(6)
        self._config = config
        self._redis = aioredis.from_url(config.redis_url, decode_responses=True)
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        self._subscribed: set[str] = set()
        self._subscribing = asyncio.Lock()
        self._scripts = {
            name: self._redis.register_script(text)
            for name, text in (
                ("create", _CREATE),
                ("admit", _ADMIT),
                ("discharge", _DISCHARGE),
                ("update", _UPDATE),
                ("close", _CLOSE),
                ("reap", _REAP),
            )
        }
        # Writes that nobody waits for (publications, departures), done in order.
        self._writes: asyncio.Queue[Callable[[], Awaitable] | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._writer: asyncio.Task | None = None
        self._joining: Counter[str] = Counter()  # admissions in progress, per room
        self._backends: Backends | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, backends: Backends) -> None:
        self._backends = backends
        try:
            await self._beat()
            await self._redis.sadd(REPLICAS, self.replica_id)
            # One subscription at all times, so that the reader always has a connection.
            await self._pubsub.subscribe(f"{PREFIX}replica:{self.replica_id}:events")
        except RedisError as exc:
            raise EngineUnavailable(
                f"cannot reach the Redis of PARLEY_ROOMS_REDIS_URL: {exc}"
            ) from exc
        self._writer = asyncio.create_task(self._write())
        self._tasks = [
            asyncio.create_task(self._read()),
            asyncio.create_task(self._heartbeat()),
            asyncio.create_task(self._sweep()),
        ]
        log.info("rooms shared through Redis", replica=self.replica_id)

    async def stop(self) -> None:
        self._writes.put_nowait(None)
        if self._writer is not None:
            await asyncio.wait([self._writer], timeout=5)
            self._tasks.append(self._writer)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await self._redis.delete(
                _alive_key(self.replica_id), _replica_rooms_key(self.replica_id)
            )
            await self._redis.srem(REPLICAS, self.replica_id)
        except RedisError as exc:
            log.warning("could not deregister from Redis", error=str(exc))
        await self._pubsub.aclose()
        await self._redis.aclose()

    # -- the Directory interface -------------------------------------------------------------

    async def create(
        self,
        room_id: str = "",
        name: str = "",
        max_participants: int = 0,
        empty_timeout_s: float = 0.0,
        max_utterance_ms: int = 0,
        open_room: bool = False,
    ) -> Room:
        existing = self._local(room_id) if room_id else None
        if existing is not None and not existing.members:
            existing.close("the room was closed")  # a cached copy: Redis says whether it exists
        room = self.registry.create(
            room_id, name, max_participants, empty_timeout_s, max_utterance_ms, open_room
        )
        self._adopt(room)
        record = {
            "name": room.name,
            "max_participants": room.max_participants,
            "empty_timeout_s": room.empty_timeout_s,
            "max_utterance_ms": room.max_utterance_ms,
            "open": int(room.open),
            "join_token": room.join_token,
            "create_time": repr(room.create_time),
        }
        fields = [item for pair in record.items() for item in pair]
        try:
            created = await self._scripts["create"](
                keys=[ROOMS, _room_key(room.room_id), EMPTY],
                args=[
                    room.room_id,
                    self._config.max_rooms,
                    repr(room.create_time),
                    repr(room.create_time + room.empty_timeout_s),
                    *fields,
                ],
            )
        except RedisError as exc:
            self.registry.remove(room)
            raise self._unavailable(exc) from exc
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
            record = await self._redis.hgetall(_room_key(room_id))
        except RedisError as exc:
            raise self._unavailable(exc) from exc
        local = self._local(room_id)
        if not record:
            if local is not None:
                local.close("the room was closed")
            raise NotFound(f"no room {quoted(room_id)}")
        if local is not None:
            if local.join_token == record["join_token"]:
                return local
            local.close("the room was closed")  # a namesake replaced it
        room = self.registry.create(
            room_id,
            record["name"],
            int(record["max_participants"]),
            float(record["empty_timeout_s"]),
            int(record["max_utterance_ms"]),
            record["open"] == "1",
        )
        room.join_token = record["join_token"]
        room.create_time = float(record["create_time"])
        self._adopt(room)
        return room

    async def _admit_script(self, room: Room, member: Member):
        """Runs the atomic admission of ``member`` into ``room`` (limits across replicas)."""
        return await self._scripts["admit"](
            keys=[
                _room_key(room.room_id),
                _members_key(room.room_id),
                _replica_rooms_key(self.replica_id),
                EMPTY,
            ],
            args=[member.participant_id, self._record(member), room.room_id],
        )

    async def admit(self, room: Room, member: Member) -> None:
        self._joining[room.room_id] += 1
        try:
            await self._subscribe(room.room_id)
            result = await self._admit_script(room, member)
        except RedisError as exc:
            raise self._unavailable(exc) from exc
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
            self.discharge_record(room.room_id, member.participant_id)
            raise
        if isinstance(room, ClusterRoom):  # the mirror of the others, fresh
            flat = result[1]
            room.remote = {
                pid: _participant(json.loads(raw)["participant"])
                for pid, raw in zip(flat[::2], flat[1::2], strict=True)
                if pid not in room.members
            }

    # -- RoomEvents of this replica's rooms -------------------------------------------------

    def left(self, room: Room, member: Member, reason: int) -> None:
        """Forgets the member's record in Redis and tells the other replicas."""
        self.registry.left(room, member, reason)
        participant = member.to_proto()
        last_here = "1" if not room.members else "0"
        if reason == rooms_pb2.LEAVE_REASON_ROOM_CLOSED:
            # Closed here only (this replica is shutting down): the others see a disconnection.
            reason = rooms_pb2.LEAVE_REASON_DISCONNECTED

        async def write() -> None:
            removed = await self._scripts["discharge"](
                keys=[
                    _room_key(room.room_id),
                    _members_key(room.room_id),
                    EMPTY,
                    _replica_rooms_key(self.replica_id),
                ],
                args=[member.participant_id, room.room_id, repr(time.time()), last_here],
            )
            if removed == 1:  # else the room was closed, or a sweeper already said so
                await self._publish_now(room.room_id, self._left(participant, reason))

        self._writes.put_nowait(write)

    def closed(self, room: Room) -> None:
        self.registry.closed(room)

    def discharge_record(self, room_id: str, participant_id: str) -> None:
        """Forgets a participant's record (admitted in Redis, then refused here)."""

        async def write() -> None:
            await self._redis.hdel(_members_key(room_id), participant_id)

        self._writes.put_nowait(write)

    async def describe(self, room_id: str) -> rooms_pb2.Room:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hgetall(_room_key(room_id))
                pipe.hgetall(_members_key(room_id))
                record, members = await pipe.execute()
        except RedisError as exc:
            raise self._unavailable(exc) from exc
        if not record:
            raise NotFound(f"no room {quoted(room_id)}")
        return self._room_proto(room_id, record, members)

    async def list(self) -> list[rooms_pb2.Room]:
        try:
            ids = await self._redis.zrange(ROOMS, 0, -1)
            async with self._redis.pipeline(transaction=False) as pipe:
                for room_id in ids:
                    pipe.hgetall(_room_key(room_id))
                    pipe.hgetall(_members_key(room_id))
                replies = await pipe.execute()
        except RedisError as exc:
            raise self._unavailable(exc) from exc
        return [
            self._room_proto(room_id, record, members)
            for room_id, record, members in zip(ids, replies[::2], replies[1::2], strict=True)
            if record
        ]

    async def close(self, room: Room, reason: str) -> int:
        try:
            count = await self._scripts["close"](
                keys=[ROOMS, _room_key(room.room_id), _members_key(room.room_id), EMPTY],
                args=[room.room_id],
            )
            await self._publish_now(room.room_id, {"kind": "closed", "reason": reason})
        except RedisError as exc:
            raise self._unavailable(exc) from exc
        here = room.close(reason)
        return max(count, here)

    def fanout(self, room: Room, backends: Backends, timeout_s: float) -> FanOut:
        return ClusterFanOut(room, backends, timeout_s, self)

    # -- publishing --------------------------------------------------------------------------

    def share(self, room: ClusterRoom, event: rooms_pb2.JoinResponse) -> None:
        """Stores and publishes a participant event about one of this replica's members."""
        kind = event.WhichOneof("event")
        participant = getattr(event, kind).participant
        member = room.members.get(participant.participant_id)
        if member is None:
            return
        record = self._record(member)
        message = {"kind": "event", "event": _b64(event)}

        async def write() -> None:
            if kind == "participant_updated":
                await self._scripts["update"](
                    keys=[_members_key(room.room_id)], args=[member.participant_id, record]
                )
            await self._publish_now(room.room_id, message)

        self._writes.put_nowait(write)

    def publish(self, room_id: str, message: dict) -> None:
        """Publishes ``message`` to the room's other replicas, in order, without waiting."""

        async def write() -> None:
            await self._publish_now(room_id, message)

        self._writes.put_nowait(write)

    async def _publish_now(self, room_id: str, message: dict) -> None:
        await self._redis.publish(
            _channel(room_id), json.dumps({**message, "from": self.replica_id})
        )

    async def _write(self) -> None:
        while (write := await self._writes.get()) is not None:
            try:
                await write()
            except RedisError as exc:
                log.warning("a room update could not reach Redis", error=str(exc))

    # -- receiving ---------------------------------------------------------------------------

    async def _subscribe(self, room_id: str) -> None:
        async with self._subscribing:
            if room_id not in self._subscribed:
                await self._pubsub.subscribe(_channel(room_id))
                self._subscribed.add(room_id)

    async def _unsubscribe_idle(self) -> None:
        """Leaves the channels of rooms where this replica no longer has members."""
        async with self._subscribing:
            for room_id in list(self._subscribed):
                room = self._local(room_id)
                if (room is None or not room.members) and not self._joining[room_id]:
                    await self._pubsub.unsubscribe(_channel(room_id))
                    self._subscribed.discard(room_id)

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except RedisError as exc:
                log.warning("room events from Redis interrupted", error=str(exc))
                await asyncio.sleep(1.0)
                continue
            if message is None or message.get("type") != "message":
                continue
            try:
                self._receive(message["channel"], json.loads(message["data"]))
            except Exception:  # one bad message must not stop the others
                log.exception("room event from another replica not handled")

    def _receive(self, channel: str, message: dict) -> None:
        if message.get("from") == self.replica_id:
            return  # delivered here already
        room_id = channel[len(PREFIX + "room:") : -len(":events")]
        room = self._local(room_id)
        if not isinstance(room, ClusterRoom):
            return
        kind = message["kind"]
        if kind == "closed":
            room.close(message["reason"])
        elif kind == "event":
            self._remote_event(room, rooms_pb2.JoinResponse.FromString(b64(message["event"])))
        elif kind == "partial":
            speaker = self._proxy(room, _participant(message["speaker"]))
            FanOut(room, self._backends, self._config.backend_timeout_s).partial(
                speaker,
                message["utterance_id"],
                message["text"],
                message["language"],
                message["stability"],
            )
        elif kind == "utterance":
            speaker = self._proxy(room, _participant(message["speaker"]))
            utterance = Utterance(
                utterance_id=message["utterance_id"],
                speaker=speaker,
                text=message["text"],
                language=message["language"],
                start_offset=_duration(message["start_ns"]),
                end_offset=_duration(message["end_ns"]),
                endpointing_s=message["endpointing_s"],
                recognition_s=message["recognition_s"],
            )
            self._remote_utterance(room, utterance)

    def _remote_event(self, room: ClusterRoom, event: rooms_pb2.JoinResponse) -> None:
        kind = event.WhichOneof("event")
        participant = getattr(event, kind).participant
        pid = participant.participant_id
        if pid in room.members:
            return
        if kind == "participant_left":
            room.remote.pop(pid, None)
            room.proxies.pop(pid, None)
            queue = room.remote_speakers.get(pid)
            if queue is not None:
                queue.put_nowait(None)  # what they said is still delivered, then the worker ends
        else:
            room.remote[pid] = participant
            if pid in room.proxies:
                room.proxies[pid].display_name = participant.display_name
        room.deliver_local(event)

    def _proxy(self, room: ClusterRoom, participant: rooms_pb2.Participant) -> Member:
        """A stand-in for a speaker connected to another replica: the fan-out sends it nothing
        (captions-free delivery, closed outbox)."""
        proxy = room.proxies.get(participant.participant_id)
        if proxy is None:
            outbox = Outbox(1, 1)
            outbox.close()
            proxy = Member(
                participant_id=participant.participant_id,
                display_name=participant.display_name,
                speak_language=participant.speak_language,
                listen_language=participant.listen_language,
                input_format=AudioFormat(),
                output_format=AudioFormat(),
                delivery=rooms_pb2.DELIVERY_MODE_AUDIO_ONLY,
                same_language_audio=False,
                interim_captions=False,
                outbox=outbox,
            )
            room.proxies[participant.participant_id] = proxy
        return proxy

    def _remote_utterance(self, room: ClusterRoom, utterance: Utterance) -> None:
        """Queues an utterance of a remote speaker: one speaker's utterances reach this
        replica's members in order."""
        pid = utterance.speaker.participant_id
        queue = room.remote_speakers.get(pid)
        if queue is None:
            queue = room.remote_speakers[pid] = asyncio.Queue()
            room.tasks.spawn(self._deliver_remote(room, pid, queue), f"deliver from {pid}")
        queue.put_nowait(utterance)

    async def _deliver_remote(self, room: ClusterRoom, pid: str, queue: asyncio.Queue) -> None:
        assert self._backends is not None
        fanout = FanOut(room, self._backends, self._config.backend_timeout_s)
        while True:
            try:
                utterance = await asyncio.wait_for(queue.get(), 60.0)
            except TimeoutError:
                if queue.empty():
                    break
                continue
            if utterance is None or room.closed:
                break
            try:
                await fanout.deliver(utterance)
            except Exception:  # one utterance's failure must not end the speaker's queue
                log.exception("delivery failed", utterance=utterance.utterance_id)
        if room.remote_speakers.get(pid) is queue:
            del room.remote_speakers[pid]

    # -- replicas ----------------------------------------------------------------------------

    async def _beat(self) -> None:
        await self._redis.set(
            _alive_key(self.replica_id), "1", px=int(self._config.replica_timeout_s * 1000)
        )

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._config.replica_timeout_s / 4)
            try:
                await self._beat()
                if not await self._redis.sismember(REPLICAS, self.replica_id):
                    await self._register_again()
            except RedisError as exc:
                log.warning("heartbeat to Redis failed", error=str(exc))

    async def _register_again(self) -> None:
        """After Redis was out of reach for longer than the timeout, another replica took
        this one for dead and removed its participants: they are still connected here, so they
        are registered (and announced) again, where their rooms still exist and have room."""
        log.warning("this replica was taken for dead: registering its participants again")
        await self._redis.sadd(REPLICAS, self.replica_id)
        for room in self.registry.list():
            for member in list(room.members.values()):
                result = await self._admit_script(room, member)
                if result[0] == -1:
                    room.close("the room was closed")
                    break
                if result[0] == 1:
                    joined = rooms_pb2.JoinResponse(
                        participant_joined=rooms_pb2.ParticipantJoined(
                            participant=member.to_proto()
                        )
                    )
                    await self._publish_now(room.room_id, {"kind": "event", "event": _b64(joined)})

    async def _sweep(self) -> None:
        """Removes the members of dead replicas and the rooms empty past their timeout."""
        self._tasks = [t for t in self._tasks if not t.done()]
        while True:
            await asyncio.sleep(min(1.0, self._config.replica_timeout_s / 4))
            try:
                await self._sweep_replicas()
                await self._reap_rooms()
                await self._unsubscribe_idle()
            except RedisError as exc:
                log.warning("sweeping Redis failed", error=str(exc))
            self._tasks = [t for t in self._tasks if not t.done()]

    async def _sweep_replicas(self) -> None:
        for replica in await self._redis.smembers(REPLICAS):
            if replica == self.replica_id or await self._redis.exists(_alive_key(replica)):
                continue
            log.warning(
                "replica stopped answering: its participants are disconnected", replica=replica
            )
            for room_id in await self._redis.smembers(_replica_rooms_key(replica)):
                members = await self._redis.hgetall(_members_key(room_id))
                for pid, raw in members.items():
                    record = json.loads(raw)
                    if record["replica"] != replica:
                        continue
                    removed = await self._scripts["discharge"](
                        keys=[_room_key(room_id), _members_key(room_id), EMPTY, "-"],
                        args=[pid, room_id, repr(time.time()), "0"],
                    )
                    if removed == 1:
                        left = self._left(
                            _participant(record["participant"]),
                            rooms_pb2.LEAVE_REASON_DISCONNECTED,
                        )
                        await self._publish_now(room_id, left)
                        local = self._local(room_id)
                        if isinstance(local, ClusterRoom):
                            self._remote_event(local, b64_event(left))
            await self._redis.delete(_replica_rooms_key(replica))
            await self._redis.srem(REPLICAS, replica)

    async def _reap_rooms(self) -> None:
        now = time.time()
        for room_id in await self._redis.zrangebyscore(EMPTY, "-inf", now):
            removed = await self._scripts["reap"](
                keys=[ROOMS, _room_key(room_id), _members_key(room_id), EMPTY],
                args=[room_id, repr(now)],
            )
            if removed:
                log.info("empty room removed", room=room_id)

    # -- helpers -----------------------------------------------------------------------------

    def _local(self, room_id: str) -> Room | None:
        try:
            return self.registry.get(room_id)
        except NotFound:
            return None

    def _adopt(self, room: Room) -> None:
        room.events = self
        if isinstance(room, ClusterRoom):
            room.directory = self

    def _record(self, member: Member) -> str:
        return json.dumps({"replica": self.replica_id, "participant": _b64(member.to_proto())})

    @staticmethod
    def _left(participant: rooms_pb2.Participant, reason: int) -> dict:
        event = rooms_pb2.JoinResponse(
            participant_left=rooms_pb2.ParticipantLeft(participant=participant, reason=reason)
        )
        return {"kind": "event", "event": _b64(event)}

    @staticmethod
    def _room_proto(room_id: str, record: dict, members: dict) -> rooms_pb2.Room:
        shell = Room(
            room_id=room_id,
            name=record["name"],
            max_participants=int(record["max_participants"]),
            empty_timeout_s=float(record["empty_timeout_s"]),
            max_utterance_ms=int(record["max_utterance_ms"]),
            open=record["open"] == "1",
            join_token="",
            create_time=float(record["create_time"]),
        )
        proto = shell.to_proto()
        participants = [_participant(json.loads(raw)["participant"]) for raw in members.values()]
        participants.sort(key=lambda p: p.join_time.ToNanoseconds())
        proto.participants.extend(participants)
        proto.listen_languages[:] = sorted({p.listen_language for p in participants})
        return proto

    @staticmethod
    def _unavailable(exc: Exception) -> EngineUnavailable:
        return EngineUnavailable(f"the rooms' Redis (PARLEY_ROOMS_REDIS_URL) is unreachable: {exc}")


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def b64_event(message: dict) -> rooms_pb2.JoinResponse:
    return rooms_pb2.JoinResponse.FromString(b64(message["event"]))
