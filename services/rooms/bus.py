"""The pub/sub channels room-service replicas talk on, with typed, versioned messages.

Each room has a channel; a replica with members in a room is subscribed to it. A message is a
``parley.v1.ReplicaMessage`` (serialized, then base64 for Redis' text connection) carrying its
layout version: a replica drops a version it does not know, with a warning, rather than guess.
Writes nobody waits for (publications, records of departures) go out in order through one
queue; :class:`ReplicaBus` owns the writer and the reader and ends them when it stops.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from parley.logs import get_logger
from parley.v1 import replicas_pb2
from services.rooms import redis_scripts as keys
from services.rooms.tasks import TaskOwner

log = get_logger(__name__)

VERSION = 1
STOP_TIMEOUT_S = 5.0

Receive = Callable[[str, replicas_pb2.ReplicaMessage], None]


def encode(message) -> str:
    """A Protobuf message as the text Redis carries."""
    return base64.b64encode(message.SerializeToString()).decode()


def decode(text: str, message_type):
    """The Protobuf message of ``encode``'s text."""
    return message_type.FromString(base64.b64decode(text))


class ReplicaBus:
    """Subscriptions, ordered publishing and the reader of one replica.

    Args:
        redis: the replicas' Redis (``decode_responses=True``).
        replica_id: this replica.
        receive: called with (room id, message) for each message of another replica.
    """

    def __init__(self, redis, replica_id: str, receive: Receive) -> None:
        self._redis = redis
        self.replica_id = replica_id
        self._receive = receive
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self._subscribed: set[str] = set()
        self._subscribing = asyncio.Lock()
        self._writes: asyncio.Queue[Callable[[], Awaitable] | None] = asyncio.Queue()
        self._tasks = TaskOwner(f"replica {replica_id} bus")
        self._writer: asyncio.Task | None = None

    async def start(self) -> None:
        """Subscribes to this replica's own channel (the reader always has a connection) and
        starts the writer and the reader."""
        await self._pubsub.subscribe(f"{keys.PREFIX}replica:{self.replica_id}:events")
        self._writer = self._tasks.spawn(self._write(), "writer")
        self._tasks.spawn(self._read(), "reader")

    async def stop(self) -> None:
        """Sends what is queued (for up to STOP_TIMEOUT_S), then ends the reader."""
        self._writes.put_nowait(None)
        if self._writer is not None:
            await asyncio.wait([self._writer], timeout=STOP_TIMEOUT_S)
        await self._tasks.cancel()
        await self._pubsub.aclose()

    # -- writing ----------------------------------------------------------------------------------

    def later(self, write: Callable[[], Awaitable]) -> None:
        """Runs ``write`` (a Redis update) after the writes queued before it, without waiting."""
        self._writes.put_nowait(write)

    def publish(self, room_id: str, **body) -> None:
        """Publishes a message to the room's other replicas, in order, without waiting; ``body``
        is one field of ReplicaMessage's ``body`` (``closed=...``, ``utterance=...``)."""
        message = self.message(**body)
        self.later(lambda: self.publish_now(room_id, message))

    def message(self, **body) -> replicas_pb2.ReplicaMessage:
        return replicas_pb2.ReplicaMessage(version=VERSION, sender=self.replica_id, **body)

    async def publish_now(self, room_id: str, message: replicas_pb2.ReplicaMessage) -> None:
        await self._redis.publish(keys.channel(room_id), encode(message))

    async def _write(self) -> None:
        while (write := await self._writes.get()) is not None:
            try:
                await write()
            except RedisError as exc:
                log.warning("a room update could not reach Redis", error=str(exc))

    # -- reading ----------------------------------------------------------------------------------

    async def subscribe(self, room_id: str) -> None:
        async with self._subscribing:
            if room_id not in self._subscribed:
                await self._pubsub.subscribe(keys.channel(room_id))
                self._subscribed.add(room_id)

    async def unsubscribe_unless(self, keep: Callable[[str], bool]) -> None:
        """Leaves the channel of every room for which ``keep(room_id)`` is false."""
        async with self._subscribing:
            for room_id in list(self._subscribed):
                if not keep(room_id):
                    await self._pubsub.unsubscribe(keys.channel(room_id))
                    self._subscribed.discard(room_id)

    async def _read(self) -> None:
        while True:
            try:
                raw = await self._pubsub.get_message(timeout=1.0)
            except RedisError as exc:
                log.warning("room events from Redis interrupted", error=str(exc))
                await asyncio.sleep(1.0)  # the connection is retried at this pace
                continue
            if raw is None or raw.get("type") != "message":
                continue
            try:
                message = decode(raw["data"], replicas_pb2.ReplicaMessage)
            except Exception:  # not ours, or damaged: the others still count
                log.warning("a room event from Redis could not be read")
                continue
            if message.version != VERSION:
                log.warning("room event of an unknown version ignored", version=message.version)
                continue
            if message.sender == self.replica_id:
                continue  # delivered here already
            try:
                self._receive(keys.room_of_channel(raw["channel"]), message)
            except Exception:  # one bad message must not stop the others
                log.exception("room event from another replica not handled")
