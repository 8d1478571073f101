"""Replicas watching each other: heartbeats, and the clean-up after a replica that stopped.

Each replica keeps a heartbeat key alive (``replica_timeout_s``). Whichever replica first
notices that another's heartbeat expired removes that replica's participants from their rooms
and announces them as disconnected; rooms empty past their timeout are removed the same way.
A replica that was out of reach for longer than the timeout, and so taken for dead, registers
its participants again.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from parley.logs import get_logger
from parley.v1 import replicas_pb2, rooms_pb2
from services.rooms import redis_scripts as keys
from services.rooms.bus import decode
from services.rooms.replica_rooms import ClusterRoom, remote_event

if TYPE_CHECKING:
    from services.rooms.cluster import RedisDirectory

log = get_logger(__name__)


class ReplicaWatch:
    """The heartbeat and the sweeps of one replica (runs as tasks of its directory)."""

    def __init__(self, directory: RedisDirectory, timeout_s: float) -> None:
        self._directory = directory
        self._redis = directory.redis
        self._scripts = directory.scripts
        self._timeout_s = timeout_s
        self.replica_id = directory.replica_id

    async def beat(self) -> None:
        await self._redis.set(keys.alive_key(self.replica_id), "1", px=int(self._timeout_s * 1000))

    async def heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._timeout_s / 4)  # the heartbeat's period
            try:
                await self.beat()
                if not await self._redis.sismember(keys.REPLICAS, self.replica_id):
                    await self._register_again()
            except RedisError as exc:
                log.warning("heartbeat to Redis failed", error=str(exc))

    async def sweep(self) -> None:
        """Removes the members of dead replicas and the rooms empty past their timeout."""
        while True:
            await asyncio.sleep(min(1.0, self._timeout_s / 4))  # the sweep's period
            try:
                await self._sweep_replicas()
                await self._reap_rooms()
                await self._directory.unsubscribe_idle()
            except RedisError as exc:
                log.warning("sweeping Redis failed", error=str(exc))

    async def _register_again(self) -> None:
        log.warning("this replica was taken for dead: registering its participants again")
        directory = self._directory
        await self._redis.sadd(keys.REPLICAS, self.replica_id)
        for room in directory.registry.list():
            for member in list(room.members.values()):
                result = await directory.admit_script(room, member)
                if result[0] == -1:
                    room.close("the room was closed")
                    break
                if result[0] == 1:
                    joined = rooms_pb2.JoinResponse(
                        participant_joined=rooms_pb2.ParticipantJoined(
                            participant=member.to_proto()
                        )
                    )
                    await directory.bus.publish_now(
                        room.room_id, directory.bus.message(participant_event=joined)
                    )

    async def _sweep_replicas(self) -> None:
        for replica in await self._redis.smembers(keys.REPLICAS):
            if replica == self.replica_id or await self._redis.exists(keys.alive_key(replica)):
                continue
            log.warning(
                "replica stopped answering: its participants are disconnected", replica=replica
            )
            for room_id in await self._redis.smembers(keys.replica_rooms_key(replica)):
                await self._disconnect_all(room_id, replica)
            await self._redis.delete(keys.replica_rooms_key(replica))
            await self._redis.srem(keys.REPLICAS, replica)

    async def _disconnect_all(self, room_id: str, replica: str) -> None:
        """Removes the records of ``replica``'s participants in a room and announces them."""
        members = await self._redis.hgetall(keys.members_key(room_id))
        for pid, raw in members.items():
            record = decode(raw, replicas_pb2.ReplicaMember)
            if record.replica != replica:
                continue
            removed = await self._scripts["discharge"](
                keys=[keys.room_key(room_id), keys.members_key(room_id), keys.EMPTY, "-"],
                args=[pid, room_id, repr(time.time()), "0"],
            )
            if removed != 1:
                continue
            left = rooms_pb2.JoinResponse(
                participant_left=rooms_pb2.ParticipantLeft(
                    participant=record.participant, reason=rooms_pb2.LEAVE_REASON_DISCONNECTED
                )
            )
            bus = self._directory.bus
            await bus.publish_now(room_id, bus.message(participant_event=left))
            local = self._directory.local(room_id)
            if isinstance(local, ClusterRoom):
                remote_event(local, left)

    async def _reap_rooms(self) -> None:
        now = time.time()
        for room_id in await self._redis.zrangebyscore(keys.EMPTY, "-inf", now):
            removed = await self._scripts["reap"](
                keys=[keys.ROOMS, keys.room_key(room_id), keys.members_key(room_id), keys.EMPTY],
                args=[room_id, repr(now)],
            )
            if removed:
                log.info("empty room removed", room=room_id)
