"""What the room-service replicas keep in Redis: the keys, and the Lua scripts that change them
atomically (admission under a room's limit, departures, closing, removing empty rooms). See
``services.rooms.cluster`` for what each key holds."""

from __future__ import annotations

PREFIX = "parley:"
ROOMS = PREFIX + "rooms"
EMPTY = PREFIX + "empty"
REPLICAS = PREFIX + "replicas"

# KEYS: rooms, room, empty. ARGV: id, max_rooms, create_time, empty deadline, field, value...
CREATE = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
return 1
"""
# KEYS: room, members, replica's rooms, empty. ARGV: participant id, record, room id.
ADMIT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local most = tonumber(redis.call('HGET', KEYS[1], 'max_participants'))
if redis.call('HLEN', KEYS[2]) >= most then return {0} end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('ZREM', KEYS[4], ARGV[3])
return {1, redis.call('HGETALL', KEYS[2])}
"""
# KEYS: room, members, empty, replica's rooms. ARGV: participant id, room id, now, last here.
DISCHARGE = """
local removed = redis.call('HDEL', KEYS[2], ARGV[1])
if ARGV[4] == '1' then redis.call('SREM', KEYS[4], ARGV[2]) end
if removed == 1 and redis.call('HLEN', KEYS[2]) == 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  local timeout = tonumber(redis.call('HGET', KEYS[1], 'empty_timeout_s'))
  redis.call('ZADD', KEYS[3], tonumber(ARGV[3]) + timeout, ARGV[2])
end
return removed
"""
# KEYS: members. ARGV: participant id, record. Never brings back someone who left.
UPDATE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 1
"""
# KEYS: rooms, room, members, empty. ARGV: room id. Returns the members it had, -1 if none.
CLOSE = """
local count = redis.call('HLEN', KEYS[3])
local existed = redis.call('DEL', KEYS[2])
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
if existed == 0 then return -1 end
return count
"""
# KEYS: rooms, room, members, empty. ARGV: room id, now. Removes a room empty past its deadline.
REAP = """
local deadline = redis.call('ZSCORE', KEYS[4], ARGV[1])
if not deadline or tonumber(deadline) > tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[4], ARGV[1])
if redis.call('HLEN', KEYS[3]) > 0 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
"""


def room_key(room_id: str) -> str:
    return f"{PREFIX}room:{room_id}"


def members_key(room_id: str) -> str:
    return f"{PREFIX}room:{room_id}:members"


def channel(room_id: str) -> str:
    return f"{PREFIX}room:{room_id}:events"


def alive_key(replica: str) -> str:
    return f"{PREFIX}replica:{replica}"


def replica_rooms_key(replica: str) -> str:
    return f"{PREFIX}replica:{replica}:rooms"


SCRIPTS = {
    "create": CREATE,
    "admit": ADMIT,
    "discharge": DISCHARGE,
    "update": UPDATE,
    "close": CLOSE,
    "reap": REAP,
}


def room_of_channel(channel: str) -> str:
    """The room id of a room's events channel."""
    return channel[len(PREFIX + "room:") : -len(":events")]
