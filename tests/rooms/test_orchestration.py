"""The room service's orchestration, driven in-process with scripted engines: fan-out, outboxes,
admission, stalled listeners, closing with members, leaving during delivery and shutdown.

These tests are about who gets what, once and in order; the engines' own work (recognition,
translation, synthesis of real speech) is tested with the real engines in the other modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback

import grpc
import pytest

from parley.server import running
from parley.v1 import audio_pb2, rooms_pb2, rooms_pb2_grpc
from services.rooms.config import RoomsConfig
from services.rooms.outbox import Outbox, SerializedChunk, Stalled
from services.rooms.servicer import service as rooms_service
from tests.rooms.conftest import LOOPBACK, Participant, join
from tests.rooms.fakes import CHUNKS, ScriptedBackends, said

DISCONNECTED = rooms_pb2.LEAVE_REASON_DISCONNECTED
SMALL_WINDOW = [("grpc.http2.bdp_probe", 0)]


@contextlib.asynccontextmanager
async def rooms(backends: ScriptedBackends | None = None, **settings):
    """A RoomService on 127.0.0.1:0 over scripted engines; yields (stub, backends, server).
    The stub's ``slow`` is a stub on a channel whose flow-control window does not grow, for
    clients that stop reading."""
    backends = backends or ScriptedBackends()
    hosted = rooms_service(RoomsConfig(**settings), backends)
    async with running([hosted], LOOPBACK) as server:
        async with (
            grpc.aio.insecure_channel(server.local_address) as channel,
            grpc.aio.insecure_channel(server.local_address, options=SMALL_WINDOW) as slow,
        ):
            stub = rooms_pb2_grpc.RoomServiceStub(channel)
            stub.slow = rooms_pb2_grpc.RoomServiceStub(slow)
            stub.servicer = hosted.drain.__self__  # the RoomServicer, to look at its rooms
            yield stub, backends, server


async def open_room(stub, room_id: str = "r", **limits) -> str:
    request = rooms_pb2.CreateRoomRequest(
        room_id=room_id, open=True, limits=rooms_pb2.RoomLimits(**limits)
    )
    return (await stub.CreateRoom(request)).room.room_id


async def enter(stub, room_id: str, name: str, speak: str, listen: str, **fields) -> Participant:
    person = Participant(stub, join(room_id, name, speak, listen, **fields))
    await person.wait_for(lambda _: person.of("joined"), within_s=10)
    return person


def say(person: Participant, text: str) -> None:
    person.send(audio=audio_pb2.AudioChunk(data=said(text)))


def _from_the_server(context: dict) -> bool:
    """True if a loop error comes from the room service (not from the test's gRPC clients)."""
    exc = context.get("exception")
    frames = traceback.extract_tb(exc.__traceback__) if exc is not None else []
    where = [f.filename for f in frames] + [repr(context.get("task") or context.get("future"))]
    return any("services/rooms" in w or "services.rooms" in w for w in where)


@pytest.fixture
async def unhandled():
    """Exceptions of the room service that reached the event loop's handler: a task that failed
    with nobody to collect its exception."""
    loop = asyncio.get_running_loop()
    found: list[dict] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(
        lambda _loop, context: found.append(context) if _from_the_server(context) else None
    )
    yield found
    loop.set_exception_handler(previous)


# -- the outbox --------------------------------------------------------------------------------


def test_the_outbox_never_changes_what_it_is_given():
    outbox = Outbox(max_audio_chunks=2, max_events=10)
    chunk = rooms_pb2.UtteranceAudioChunk(utterance_id="u", data=b"x")
    for _ in range(3):  # one more than it holds: the oldest is dropped
        outbox.put(SerializedChunk(rooms_pb2.JoinResponse(audio_chunk=chunk).SerializeToString()))
    end = rooms_pb2.JoinResponse(audio_end=rooms_pb2.UtteranceAudioEnd(utterance_id="u"))
    outbox.put(end)
    assert end.audio_end.dropped_chunks == 0  # the shared event is untouched
    queued = [outbox._items[i] for i in range(len(outbox))]
    own_end = next(
        e for e in queued if not isinstance(e, SerializedChunk) and e.HasField("audio_end")
    )
    assert own_end.audio_end.dropped_chunks == 1
    assert any(not isinstance(e, SerializedChunk) and e.HasField("notice") for e in queued)


def test_an_outbox_past_its_events_limit_is_stalled():
    outbox = Outbox(max_audio_chunks=2, max_events=3)
    note = rooms_pb2.JoinResponse(notice=rooms_pb2.Notice(message="x"))
    for _ in range(3):
        outbox.put(note)
    with pytest.raises(Stalled):
        outbox.put(note)


# -- fan-out -----------------------------------------------------------------------------------


async def test_an_utterance_costs_one_translation_and_one_synthesis_per_language():
    async with rooms() as (stub, backends, _):
        room = await open_room(stub)
        ann = await enter(stub, room, "Ann", "en", "en")
        listeners = [
            await enter(stub, room, f"L{i}", lang, lang)
            for i, lang in enumerate(["es", "fr", "it", "es", "fr", "it", "en"])
        ]
        say(ann, "Good morning")
        for person in listeners:
            await person.wait_for(lambda _, p=person: p.finals(), within_s=10)
        spanish = listeners[0]
        await spanish.wait_for(lambda _: spanish.of("audio_end"), within_s=10)
        assert backends.calls["translate"] == 1 and backends.targets == [["es", "fr", "it"]]
        await listeners[5].wait_for(lambda _: listeners[5].of("audio_end"), within_s=10)
        assert sorted(backends.synthesized) == ["es", "fr", "it"]
        for person, lang in zip(listeners, ["es", "fr", "it", "es", "fr", "it", "en"], strict=True):
            (caption,) = person.finals()
            expected = "Good morning" if lang == "en" else f"{lang}: Good morning"
            assert caption.text == expected and caption.original_text == "Good morning"
        # The English listener hears the speaker's own language: a caption and no audio.
        assert not listeners[6].of("audio_chunk")
        assert len(spanish.of("audio_chunk")) == CHUNKS
        for person in (*listeners, ann):
            await person.close()


async def test_a_failing_language_gets_captions_and_a_notice_the_others_get_speech():
    backends = ScriptedBackends()
    backends.fail_synthesis.add("fr")
    async with rooms(backends) as (stub, _, _):
        room = await open_room(stub)
        ann = await enter(stub, room, "Ann", "en", "en")
        luis = await enter(stub, room, "Luis", "es", "es")
        marie = await enter(stub, room, "Marie", "fr", "fr")
        say(ann, "Thank you")
        await marie.wait_for(lambda _: marie.of("notice"), within_s=10)
        await luis.wait_for(lambda _: luis.of("audio_end"), within_s=10)
        assert marie.finals()[0].text == "fr: Thank you"
        assert marie.of("notice")[0].code == rooms_pb2.NOTICE_CODE_SYNTHESIS_FAILED
        assert not marie.of("audio_chunk") and len(luis.of("audio_chunk")) == CHUNKS
        for person in (ann, luis, marie):
            await person.close()


# -- admission ---------------------------------------------------------------------------------


async def test_admission_limits_and_tokens():
    async with rooms() as (stub, _, _):
        await open_room(stub, "small", max_participants=1)
        first = await enter(stub, "small", "A", "en", "en")
        second = Participant(stub, join("small", "B", "en", "en"))
        await second.wait_for(lambda _: second.error, within_s=10)
        assert second.error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        closed = await stub.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="locked"))
        intruder = Participant(stub, join("locked", "C", "en", "en", join_token="wrong"))
        await intruder.wait_for(lambda _: intruder.error, within_s=10)
        assert intruder.error.code() == grpc.StatusCode.PERMISSION_DENIED
        guest = await enter(stub, "locked", "D", "en", "en", join_token=closed.join_token)
        for person in (first, guest):
            await person.close()


# -- stalled listeners, closing, leaving ---------------------------------------------------------


async def test_a_listener_who_never_reads_is_disconnected_and_the_room_goes_on(unhandled):
    async with rooms(outbox_events=50) as (stub, _, _):
        room = await open_room(stub)
        ann = await enter(stub, room, "Ann", "en", "en")
        luis = await enter(stub, room, "Luis", "es", "es")
        mute = Participant(stub.slow, join(room, "Mute", "en", "es"), read=False)
        await ann.wait_for(lambda _: ann.of("participant_joined"), within_s=10)
        # Bad messages, each answered with a notice that is never read: once gRPC's flow
        # control window is full, the notices pile up in the outbox.
        for _ in range(20_000):
            mute.send()
        left = await ann.wait_for(lambda _: ann.of("participant_left"), within_s=10)
        assert left[0].participant.display_name == "Mute" and left[0].reason == DISCONNECTED
        say(ann, "Still here")
        await luis.wait_for(lambda _: luis.finals(), within_s=10)
        assert luis.finals()[0].text == "es: Still here"
        for person in (ann, luis):
            await person.close()
        mute.disconnect()
    assert not unhandled, unhandled


async def test_closing_a_room_tells_every_member_even_after_a_stalled_one(unhandled):
    async with rooms(outbox_events=5) as (stub, _, _):
        room = await open_room(stub)
        stuck = Participant(stub.slow, join(room, "Stuck", "en", "en"), read=False)
        others = [await enter(stub, room, f"P{i}", "en", "en") for i in range(3)]
        for _ in range(20_000):  # Stuck stalls on the notices these earn (see above)
            stuck.send()
        await others[0].wait_for(lambda _: len(others[0].of("participant_joined")) >= 2, 10)
        reply = await stub.CloseRoom(rooms_pb2.CloseRoomRequest(room_id=room, reason="done"))
        assert reply.participants_disconnected >= 3
        for person in others:
            closed = await person.wait_for(lambda _, p=person: p.of("room_closed"), within_s=10)
            assert closed[0].reason == "done"
            await person.close()
        stuck.disconnect()
    assert not unhandled, unhandled


async def test_a_listener_who_leaves_during_delivery_does_not_disturb_it(unhandled):
    backends = ScriptedBackends()
    backends.hold_synthesis = asyncio.Event()
    async with rooms(backends) as (stub, _, _):
        room = await open_room(stub)
        ann = await enter(stub, room, "Ann", "en", "en")
        leaving = await enter(stub, room, "Leo", "es", "es")
        staying = await enter(stub, room, "Sol", "es", "es")
        say(ann, "One moment")
        await leaving.wait_for(lambda _: leaving.of("audio_chunk"), within_s=10)
        leaving.leave()
        await staying.wait_for(lambda _: staying.of("participant_left"), within_s=10)
        backends.hold_synthesis.set()
        await staying.wait_for(lambda _: staying.of("audio_end"), within_s=10)
        assert len(staying.of("audio_chunk")) == CHUNKS
        assert len(leaving.of("audio_chunk")) < CHUNKS and not leaving.of("audio_end")
        for person in (ann, staying, leaving):
            await person.close()
    assert not unhandled, unhandled


async def test_shutdown_finishes_what_is_being_delivered_then_closes_every_room():
    backends = ScriptedBackends()
    backends.hold_synthesis = asyncio.Event()
    async with rooms(backends) as (stub, _, server):
        room = await open_room(stub)
        ann = await enter(stub, room, "Ann", "en", "en")
        luis = await enter(stub, room, "Luis", "es", "es")
        say(ann, "Last words")
        await luis.wait_for(lambda _: luis.of("audio_chunk"), within_s=10)
        stopping = asyncio.ensure_future(server.stop(grace=10.0))
        await luis.wait_for(
            lambda _: [
                n for n in luis.of("notice") if n.code == rooms_pb2.NOTICE_CODE_SHUTTING_DOWN
            ],
            within_s=10,
        )
        backends.hold_synthesis.set()
        await luis.wait_for(lambda _: luis.of("room_closed"), within_s=10)
        await stopping
        kinds = [e.WhichOneof("event") for e in luis.events]
        assert kinds.index("audio_end") < kinds.index("room_closed")
        assert [c.text for c in luis.finals()] == ["es: Last words"]


async def test_a_recognition_service_that_hangs_cannot_hold_a_leaving_speaker():
    backends = ScriptedBackends()
    backends.stuck_recognition = True
    async with rooms(backends, backend_timeout_s=0.5) as (stub, _, _):
        room_id = await open_room(stub)
        ann = await enter(stub, room_id, "Ann", "en", "en")
        luis = await enter(stub, room_id, "Luis", "es", "es")
        say(ann, "Before I go")
        await luis.wait_for(lambda _: luis.finals(), within_s=10)
        ann.leave()
        await luis.wait_for(lambda _: luis.of("participant_left"), within_s=10)
        # The last words were delivered, and the hung recognition was given up on.
        await asyncio.wait_for(backends.no_recognition.wait(), timeout=5)
        (live,) = [r for r in stub.servicer.directory.registry.list() if r.room_id == room_id]
        assert len(live.speech) == 0
        await luis.close()


async def test_an_empty_room_is_removed_after_its_timeout_and_an_occupied_one_stays():
    async with rooms() as (stub, _, _):
        brief = rooms_pb2.RoomLimits()
        brief.empty_timeout.FromMilliseconds(300)
        for room_id in ("occupied", "witness"):
            await stub.CreateRoom(
                rooms_pb2.CreateRoomRequest(room_id=room_id, open=True, limits=brief)
            )
        visitor = await enter(stub, "occupied", "V", "en", "en")
        registry = stub.servicer.directory.registry
        witness, occupied = registry.get("witness"), registry.get("occupied")
        await asyncio.wait_for(witness.ended.wait(), timeout=5)  # its 300 ms have passed
        assert registry.get("occupied") is occupied and not occupied.ended.is_set()
        visitor.leave()
        await visitor.close()
        await asyncio.wait_for(occupied.ended.wait(), timeout=5)
        with pytest.raises(grpc.aio.AioRpcError) as gone:
            await stub.GetRoom(rooms_pb2.GetRoomRequest(room_id="occupied"))
        assert gone.value.code() == grpc.StatusCode.NOT_FOUND


async def test_listeners_who_fall_behind_hear_faster_speech_until_they_catch_up():
    backends = ScriptedBackends()
    backends.speech_s = 2.0  # each sentence takes 2 s to hear
    async with rooms(backends, catch_up_after_s=3.0, catch_up_rate=1.3) as (stub, _, _):
        room = await open_room(stub)
        ann = await enter(stub, room, "Ann", "en", "en")
        luis = await enter(stub, room, "Luis", "es", "es")
        for n in range(5):  # said in a rush: translated speech piles up
            say(ann, f"Sentence number {n}.")
        await luis.wait_for(lambda _: len(luis.of("audio_end")) == 5, within_s=10)
        # Nothing, then 2 s queued: normal pace. Over 3 s queued: faster, at least halfway to
        # 1.3x, the more so the longer the queue, and 1.3x from 6 s queued (twice the bound).
        rates = backends.rates
        assert rates[:2] == [1.0, 1.0]
        assert all(1.15 <= r <= 1.3 for r in rates[2:]), rates
        assert rates[2:] == sorted(rates[2:]), rates
        assert rates[-1] == pytest.approx(1.3), rates
        for person in (ann, luis):
            await person.close()


@pytest.mark.parametrize(("said_s", "expected"), [(2.0, [1.0, 1.5]), (6.0, [1.0, 1.0])])
async def test_translated_speech_keeps_pace_with_the_speaker(said_s, expected):
    """A sentence the speaker said in 2 s whose translation takes 3 s to hear: once 3 s are
    queued, the next is spoken as fast as allowed (1.5x), before listeners fall behind; said
    in 6 s, the same translations fit in the speaker's own time at normal speed."""
    backends = ScriptedBackends()
    backends.said_s, backends.speech_s = said_s, 3.0
    async with rooms(backends, catch_up_after_s=1.0, catch_up_rate=1.5) as (stub, _, _):
        room = await open_room(stub)
        ann = await enter(stub, room, "Ann", "en", "en")
        luis = await enter(stub, room, "Luis", "es", "es")
        for n in range(2):
            say(ann, f"Sentence number {n}.")
            await luis.wait_for(lambda _, n=n: len(luis.of("audio_end")) == n + 1, within_s=10)
        assert backends.rates == expected
        for person in (ann, luis):
            await person.close()


async def test_names_and_the_glossary_are_kept_in_every_translation():
    async with rooms() as (stub, backends, _):
        request = rooms_pb2.CreateRoomRequest(room_id="g", open=True, glossary=["Parley", " Acme "])
        created = await stub.CreateRoom(request)
        assert list(created.room.glossary) == ["Parley", "Acme"]
        ann = await enter(stub, "g", "Ann", "en", "en")
        luis = await enter(stub, "g", "Luis", "es", "es")
        say(ann, "Luis, Parley is ready.")
        await luis.wait_for(lambda _: luis.finals(), within_s=10)
        (sent,) = backends.requests
        assert list(sent.do_not_translate) == ["Parley", "Acme", "Ann", "Luis"]
        for person in (ann, luis):
            await person.close()
        too_many = rooms_pb2.CreateRoomRequest(glossary=["x"] * 101)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.CreateRoom(too_many)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "glossary has 101 terms; the limit is 100" in refused.value.details()


async def test_a_language_nobody_can_translate_is_said_at_join_and_captions_carry_the_original():
    backends = ScriptedBackends()
    backends.unreachable = {("en", "de")}
    backends.fail_translation = {"de"}  # what the service answers for that pair
    backends.voiceless = {"de"}
    async with rooms(backends) as (stub, _, _):
        room = await open_room(stub)
        ann = await enter(stub, room, "Ann", "en", "en")
        hans = await enter(stub, room, "Hans", "de", "de")
        luis = await enter(stub, room, "Luis", "es", "es")
        (mute, warned) = await hans.wait_for(
            lambda _: len(hans.of("notice")) == 2 and hans.of("notice"), within_s=10
        )
        assert mute.code == rooms_pb2.NOTICE_CODE_SYNTHESIS_FAILED
        assert "no voice here speaks de: you will get captions only" in mute.message
        assert warned.code == rooms_pb2.NOTICE_CODE_TRANSLATION_FAILED
        assert "nothing here translates en into de" in warned.message
        assert "captions of Ann will carry the original en text" in warned.message
        say(ann, "Good morning.")
        await hans.wait_for(lambda _: hans.finals(), within_s=10)
        await luis.wait_for(lambda _: luis.finals(), within_s=10)
        assert [c.text for c in hans.finals()] == ["Good morning."]  # the original
        assert [c.text for c in luis.finals()] == ["es: Good morning."]
        assert not luis.of("notice")  # es is reachable: nothing to say
        for person in (ann, hans, luis):
            await person.close()


async def test_a_full_glossary_never_makes_a_translation_request_too_long():
    async with rooms() as (stub, backends, _):
        terms = [f"Term{n}" for n in range(100)]
        await stub.CreateRoom(
            rooms_pb2.CreateRoomRequest(room_id="full", open=True, glossary=terms)
        )
        ann = await enter(stub, "full", "Ann", "en", "en")
        luis = await enter(stub, "full", "Luis", "es", "es")
        say(ann, "Hello")
        await luis.wait_for(lambda _: luis.finals(), within_s=10)
        (sent,) = backends.requests
        assert list(sent.do_not_translate) == terms  # the service takes 100 at most
        for person in (ann, luis):
            await person.close()


async def test_words_in_flight_when_the_recognition_server_dies_are_recognised_again():
    backends = ScriptedBackends()
    backends.byte_offsets = True
    async with rooms(backends) as (stub, _, _):
        room_id = await open_room(stub)
        ann = await enter(stub, room_id, "Ann", "en", "en")
        luis = await enter(stub, room_id, "Luis", "es", "es")
        say(ann, "First")
        await luis.wait_for(lambda _: luis.finals(), within_s=10)
        # The server dies with "Second" in flight: a new stream is given it at once.
        backends.dying = 1
        say(ann, "Second")
        await luis.wait_for(lambda _: len(luis.finals()) == 2, within_s=10)
        assert [c.text for c in luis.finals()] == ["es: First", "es: Second"]
        assert backends.calls["recognize"] == 2
        (failed,) = [e.notice for e in ann.events if e.HasField("notice")]
        assert "UNAVAILABLE" in failed.message and "new attempt takes" in failed.message
        # When the new stream fails too, before answering, it is not retried in a loop: those
        # words are lost, and the next ones start a new attempt.
        backends.dying = 2
        say(ann, "Third")
        await ann.wait_for(lambda _: len([e for e in ann.events if e.HasField("notice")]) == 3)
        assert backends.calls["recognize"] == 3
        say(ann, "Fourth")
        await luis.wait_for(lambda _: len(luis.finals()) == 3, within_s=10)
        assert [c.text for c in luis.finals()][-1] == "es: Fourth"
        assert backends.calls["recognize"] == 4
        for person in (ann, luis):
            await person.close()
