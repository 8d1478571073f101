"""Room lifecycle: create, get, list, close, join errors and empty-room removal."""

from __future__ import annotations

import grpc
import pytest

from parley.v1 import audio_pb2, rooms_pb2
from tests.rooms.conftest import Participant, join, room_server


async def expect(code, awaitable):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await awaitable
    assert info.value.code() == code, info.value.details()
    return info.value.details()


async def test_create_get_list_and_close(engines):
    async with room_server(engines) as (stub, _):
        created = await stub.CreateRoom(
            rooms_pb2.CreateRoomRequest(
                room_id="standup",
                name="Daily standup",
                limits=rooms_pb2.RoomLimits(max_participants=3),
            )
        )
        assert created.room.room_id == "standup" and created.join_token
        assert created.room.limits.max_participants == 3
        other = await stub.CreateRoom(rooms_pb2.CreateRoomRequest())
        assert other.room.room_id and other.room.name == other.room.room_id

        page = await stub.ListRooms(rooms_pb2.ListRoomsRequest(page_size=1))
        assert [r.room_id for r in page.rooms] == ["standup"]
        rest = await stub.ListRooms(rooms_pb2.ListRoomsRequest(page_token=page.next_page_token))
        assert [r.room_id for r in rest.rooms] == [other.room.room_id] and not rest.next_page_token

        ana = Participant(stub, join("standup", "Ana", "en", "es", join_token=created.join_token))
        await ana.wait_for(lambda e: ana.of("joined"))
        got = await stub.GetRoom(rooms_pb2.GetRoomRequest(room_id="standup"))
        (person,) = got.room.participants
        assert (person.display_name, person.speak_language, person.listen_language) == (
            "Ana",
            "en",
            "es",
        )

        closed = await stub.CloseRoom(
            rooms_pb2.CloseRoomRequest(room_id="standup", reason="meeting over")
        )
        assert closed.participants_disconnected == 1
        await ana.wait_for(lambda e: ana._reader.done())
        assert ana.of("room_closed")[0].reason == "meeting over" and ana.error is None
        await expect(
            grpc.StatusCode.NOT_FOUND, stub.GetRoom(rooms_pb2.GetRoomRequest(room_id="standup"))
        )


async def test_bad_requests(engines):
    async with room_server(engines) as (stub, _):
        r1 = await stub.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="r1"))
        details = await expect(
            grpc.StatusCode.ALREADY_EXISTS,
            stub.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="r1")),
        )
        assert "r1" in details
        await expect(
            grpc.StatusCode.INVALID_ARGUMENT,
            stub.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="no spaces/allowed")),
        )

        unknown = Participant(stub, join("nope", "Bo", "en", "es"))
        await unknown.wait_for(lambda e: False)
        assert unknown.error.code() == grpc.StatusCode.NOT_FOUND

        bad_language = Participant(
            stub, join("r1", "Bo", "en", "Spanish!", join_token=r1.join_token)
        )
        await bad_language.wait_for(lambda e: False)
        assert bad_language.error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "listen_language" in bad_language.error.details()

        intruder = Participant(stub, join("r1", "Eve", "en", "es", join_token="guess"))
        await intruder.wait_for(lambda e: False)
        assert intruder.error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "wrong join token for room 'r1'" in intruder.error.details()

        tokenless = Participant(stub, join("r1", "Tom", "en", "es"))
        await tokenless.wait_for(lambda e: False)
        assert tokenless.error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "room 'r1' is not open" in tokenless.error.details()

        await stub.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="lobby", open=True))
        guest = Participant(stub, join("lobby", "Guest", "en", "es"))
        await guest.wait_for(lambda e: guest.of("joined"))
        await guest.close()

        chunk = audio_pb2.AudioChunk(data=b"\0\0" * 160)
        call = stub.Join(iter([rooms_pb2.JoinRequest(audio=chunk)]))
        details = await expect(grpc.StatusCode.FAILED_PRECONDITION, _drain(call))
        assert "first message of Join must be a JoinRoom" in details


async def _drain(call):
    async for _ in call:
        pass


async def test_full_room_and_create_if_missing(engines):
    async with room_server(engines) as (stub, _):
        await stub.CreateRoom(
            rooms_pb2.CreateRoomRequest(
                room_id="tiny", open=True, limits=rooms_pb2.RoomLimits(max_participants=1)
            )
        )
        first = Participant(stub, join("tiny", "A", "en", "en"))
        await first.wait_for(lambda e: first.of("joined"))
        second = Participant(stub, join("tiny", "B", "en", "en"))
        await second.wait_for(lambda e: False)
        assert second.error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "max_participants" in second.error.details()

        made = Participant(stub, join("fresh", "C", "en", "fr", create_if_missing=True))
        joined = await made.wait_for(lambda e: made.of("joined"))
        assert joined[0].room.room_id == "fresh" and joined[0].room.open  # nobody has a token
        await first.close()
        await made.close()


async def test_leave_and_disconnect_are_announced(engines):
    async with room_server(engines) as (stub, _):
        await stub.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="hall", open=True))
        host = Participant(stub, join("hall", "Host", "en", "en"))
        await host.wait_for(lambda e: host.of("joined"))
        leaver = Participant(stub, join("hall", "Leaver", "es", "es"))
        dropper = Participant(stub, join("hall", "Dropper", "fr", "fr"))
        await host.wait_for(lambda e: len(host.of("participant_joined")) == 2)
        leaver.leave()
        dropper.disconnect()
        left = await host.wait_for(
            lambda e: len(host.of("participant_left")) == 2 and host.of("participant_left")
        )
        reasons = {p.participant.display_name: p.reason for p in left}
        assert reasons == {
            "Leaver": rooms_pb2.LEAVE_REASON_LEFT,
            "Dropper": rooms_pb2.LEAVE_REASON_DISCONNECTED,
        }
        room = await stub.GetRoom(rooms_pb2.GetRoomRequest(room_id="hall"))
        assert [p.display_name for p in room.room.participants] == ["Host"]
        await host.close()
