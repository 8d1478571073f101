"""Rooms across replicas: two room-service processes share rooms through a real Redis
(redis-server on loopback), so participants connected to different replicas hear each other,
limits hold across replicas, and a replica that dies loses only its own connections."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time

import grpc
import numpy as np
import pytest
import redis

from parley.v1 import rooms_pb2, rooms_pb2_grpc
from tests.rooms.conftest import Participant, join
from tests.speech import silence, speak, wer

HELLO = "Good morning, how are you today?"
THANKS = "Thank you very much."


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url():
    """A throwaway redis-server on loopback, no persistence; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is missing: run the README set-up (Debian package redis-server)")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0", client
    client.close()
    process.kill()
    process.wait(timeout=10)


@pytest.fixture
def replicas(redis_url, spawn):
    """Starts room-service replicas sharing the (emptied) Redis; engines at ``address``."""
    url, client = redis_url
    client.flushall()

    def start(address: str = "127.0.0.1:9", **env):
        return spawn(
            sys.executable,
            "-m",
            "services.rooms",
            env={
                "PARLEY_ROOMS_REDIS_URL": url,
                "PARLEY_STT_ADDRESS": address,
                "PARLEY_TRANSLATE_ADDRESS": address,
                "PARLEY_TTS_ADDRESS": address,
                "PARLEY_ROOMS_REPLICA_TIMEOUT_S": "2",
                **env,
            },
        )

    return start


def stub(process) -> rooms_pb2_grpc.RoomServiceStub:
    channel = grpc.aio.insecure_channel(process.address)
    return rooms_pb2_grpc.RoomServiceStub(channel)


def utterance(text: str, language: str) -> np.ndarray:
    return np.concatenate([silence(0.3), speak(text, language), silence(1.2)])


async def test_rooms_limits_and_closing_span_replicas(replicas):
    a, b = replicas(), replicas()
    on_a, on_b = stub(a), stub(b)
    created = await on_a.CreateRoom(
        rooms_pb2.CreateRoomRequest(
            room_id="shared", name="Shared", limits=rooms_pb2.RoomLimits(max_participants=2)
        )
    )
    listed = await on_b.ListRooms(rooms_pb2.ListRoomsRequest())
    assert [r.room_id for r in listed.rooms] == ["shared"] and listed.rooms[0].name == "Shared"
    with pytest.raises(grpc.aio.AioRpcError) as taken:
        await on_b.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="shared"))
    assert taken.value.code() == grpc.StatusCode.ALREADY_EXISTS
    token = created.join_token

    ana = Participant(on_a, join("shared", "Ana", "en", "en", join_token=token))
    await ana.wait_for(lambda e: ana.of("joined"), 10)
    luis = Participant(on_b, join("shared", "Luis", "es", "es", join_token=token))
    (joined,) = await luis.wait_for(lambda e: luis.of("joined"), 10)
    assert [p.display_name for p in joined.room.participants] == ["Ana", "Luis"]
    (arrived,) = await ana.wait_for(lambda e: ana.of("participant_joined"), 10)
    assert arrived.participant.display_name == "Luis"
    room = (await on_a.GetRoom(rooms_pb2.GetRoomRequest(room_id="shared"))).room
    assert {p.display_name for p in room.participants} == {"Ana", "Luis"}
    assert list(room.listen_languages) == ["en", "es"]

    # max_participants counts both replicas: a third, on either, is refused.
    for where in (on_a, on_b):
        third = Participant(where, join("shared", "Pat", "fr", "fr", join_token=token))
        await third.wait_for(lambda e, t=third: t.error, 10)
        assert third.error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "max_participants" in third.error.details()
    # A wrong token is refused on the replica that did not create the room.
    intruder = Participant(on_b, join("shared", "Eve", "en", "en", join_token="nope"))
    await intruder.wait_for(lambda e: intruder.error, 10)
    assert intruder.error.code() == grpc.StatusCode.PERMISSION_DENIED

    luis.send(update_settings=rooms_pb2.UpdateSettings(listen_language="fr"))
    await ana.wait_for(
        lambda e: [
            u for u in ana.of("participant_updated") if u.participant.listen_language == "fr"
        ],
        10,
    )
    luis.leave()
    (gone,) = await ana.wait_for(lambda e: ana.of("participant_left"), 10)
    assert gone.participant.display_name == "Luis"
    assert gone.reason == rooms_pb2.LEAVE_REASON_LEFT
    await luis.close()

    # Closed on B, the room ends for Ana on A too.
    closed = await on_b.CloseRoom(rooms_pb2.CloseRoomRequest(room_id="shared", reason="done"))
    assert closed.participants_disconnected == 1
    (notice,) = await ana.wait_for(lambda e: ana.of("room_closed"), 10)
    assert notice.reason == "done"
    assert not (await on_a.ListRooms(rooms_pb2.ListRoomsRequest())).rooms
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await on_a.GetRoom(rooms_pb2.GetRoomRequest(room_id="shared"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    await ana.close()


async def test_participants_on_two_replicas_hear_each_other_and_survive_a_dead_replica(
    engines, replicas
):
    a, b = replicas(engines), replicas(engines)
    on_a, on_b = stub(a), stub(b)
    await on_a.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="cafe", open=True))
    ana = Participant(on_a, join("cafe", "Ana", "en", "en"))
    await ana.wait_for(lambda e: ana.of("joined"), 10)
    luis = Participant(on_b, join("cafe", "Luis", "es", "es"))
    await luis.wait_for(lambda e: luis.of("joined"), 10)
    await ana.wait_for(lambda e: ana.of("participant_joined"), 10)

    # Ana speaks English on A; Luis, on B, gets the Spanish caption and speech.
    ana.send_audio(utterance(HELLO, "en"))
    (end,) = await luis.wait_for(lambda e: luis.of("audio_end"), 60)
    (caption,) = luis.finals()
    assert caption.speaker_name == "Ana" and caption.speaker_id == ana.id
    assert wer(HELLO, caption.original_text) <= 0.2 and caption.language == "es"
    assert "buen" in caption.text.lower() and "apertium" in caption.route
    assert len(luis.audio(end.utterance_id)) > 16_000  # over half a second of 16 kHz speech
    (own,) = await ana.wait_for(lambda e: ana.finals(), 10)  # once, from A only
    assert own.text == own.original_text
    # Speaking state crossed too: Luis saw Ana speaking.
    assert any(u.participant.speaking for u in luis.of("participant_updated"))

    # A dies: Luis sees Ana disconnected within the replica timeout (2 s) and a sweep.
    started = time.monotonic()
    a.process.kill()
    (gone,) = await luis.wait_for(lambda e: luis.of("participant_left"), 15)
    assert gone.participant.participant_id == ana.id
    assert gone.reason == rooms_pb2.LEAVE_REASON_DISCONNECTED
    assert time.monotonic() - started < 10
    room = (await on_b.GetRoom(rooms_pb2.GetRoomRequest(room_id="cafe"))).room
    assert [p.display_name for p in room.participants] == ["Luis"]

    # Ana rejoins through B, and talking works again.
    again = Participant(on_b, join("cafe", "Ana", "en", "en"))
    await again.wait_for(lambda e: again.of("joined"), 10)
    again.send_audio(utterance(THANKS, "en"))
    await luis.wait_for(lambda e: len(luis.of("audio_end")) >= 2, 60)
    assert "gracias" in luis.finals()[1].text.lower()
    for p in (again, luis):
        p.leave()
        await p.close()
    await ana.close()


async def test_a_replica_shutting_down_keeps_the_room_for_the_others(replicas):
    # A long replica timeout: what Ana sees comes from B's drain, not from a sweep.
    a, b = (
        replicas(PARLEY_ROOMS_REPLICA_TIMEOUT_S="60"),
        replicas(PARLEY_ROOMS_REPLICA_TIMEOUT_S="60"),
    )
    on_a, on_b = stub(a), stub(b)
    ana = Participant(on_a, join("lasting", "Ana", "en", "en", create_if_missing=True))
    await ana.wait_for(lambda e: ana.of("joined"), 10)
    luis = Participant(on_b, join("lasting", "Luis", "es", "es"))
    await luis.wait_for(lambda e: luis.of("joined"), 10)
    b.process.terminate()  # SIGTERM: a graceful shutdown
    (closed,) = await luis.wait_for(lambda e: luis.of("room_closed"), 10)
    assert "shutting down" in closed.reason
    (gone,) = await ana.wait_for(lambda e: ana.of("participant_left"), 10)
    assert gone.participant.display_name == "Luis"
    assert gone.reason == rooms_pb2.LEAVE_REASON_DISCONNECTED
    room = (await on_a.GetRoom(rooms_pb2.GetRoomRequest(room_id="lasting"))).room
    assert [p.display_name for p in room.participants] == ["Ana"]
    assert b.process.wait(timeout=15) == 0
    for p in (ana, luis):
        await p.close()


async def test_replica_messages_carry_a_version_and_unknown_ones_are_ignored(replicas, redis_url):
    from parley.v1 import replicas_pb2
    from services.rooms.bus import encode

    _, client = redis_url
    a = replicas()
    on_a = stub(a)
    await on_a.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="versions", open=True))
    ana = Participant(on_a, join("versions", "Ana", "en", "en"))
    await ana.wait_for(lambda e: ana.of("joined"), 10)
    channel = "parley:room:versions:events"
    future = replicas_pb2.ReplicaMessage(
        version=99, sender="elsewhere", closed=rooms_pb2.RoomClosed(reason="from the future")
    )
    client.publish(channel, encode(future))
    client.publish(channel, "not a replica message at all")
    bob = rooms_pb2.Participant(participant_id="b0b", display_name="Bob", listen_language="es")
    joined = replicas_pb2.ReplicaMessage(
        version=1,
        sender="elsewhere",
        participant_event=rooms_pb2.JoinResponse(
            participant_joined=rooms_pb2.ParticipantJoined(participant=bob)
        ),
    )
    client.publish(channel, encode(joined))
    # The known message, published last, arrives; the two before it were dropped.
    (event,) = await ana.wait_for(lambda e: ana.of("participant_joined"), 10)
    assert event.participant.display_name == "Bob"
    assert not ana.of("room_closed") and ana.error is None
    await ana.close()
