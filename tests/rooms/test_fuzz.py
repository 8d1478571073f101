"""Fuzzing the Join stream (hypothesis): random sequences of client events (joins with valid and
invalid fields, audio of random bytes and lengths, settings updates, second joins, empty and
undecodable messages, leave, half-close, cancel) from several clients into two rooms of a live
RoomService at once. Whatever they send:

- no crash: every call ends with OK or a clear status (never UNKNOWN or INTERNAL), health still
  answers SERVING, and a control participant in a third room still gets its captions;
- no hang: each example finishes within a deadline and every stream ends once its client ends it;
- no leak: every event a participant receives concerns its own room (participant, speaker and
  utterance ids, and caption text that only that room's audio could produce);
- no leaked state: once everyone has left, the servicer holds no member, speaker stream or
  fan-out of those rooms.

The orchestration properties run on fake engines (fast, and their captions say which audio
chunk they come from); one property and the final control run on the real engines.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from dataclasses import dataclass, field

import grpc
import numpy as np
import pytest
from google.protobuf.duration_pb2 import Duration
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from parley.v1 import audio_pb2, rooms_pb2, stt_pb2, translate_pb2, tts_pb2
from tests.rooms.conftest import FakeRpcError, _QueueIterator
from tests.rooms.test_soak import leftovers, serving_rooms
from tests.speech import pcm16, silence, speak

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI is reproducible
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
EXAMPLE_DEADLINE_S = 30.0
STREAM_END_S = 5.0
ALLOWED = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
JOIN_METHOD = "/parley.v1.RoomService/Join"


async def _until(predicate, within_s: float = 5.0, what: str = "") -> None:
    """Waits until ``predicate()`` is true; fails the test after ``within_s``."""
    for _ in range(int(within_s / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    assert predicate(), f"not within {within_s} s: {what or predicate}"


async def _quiet(clients: list[Client], quiet_s: float, within_s: float) -> None:
    """Waits until no client has received anything for ``quiet_s`` (at most ``within_s``)."""
    loop = asyncio.get_running_loop()
    count, since, end = -1, loop.time(), loop.time() + within_s
    while loop.time() < end:
        now = sum(len(c.events) for c in clients)
        if now != count:
            count, since = now, loop.time()
        elif loop.time() - since >= quiet_s:
            return
        await asyncio.sleep(0.05)


def digest(data: bytes) -> str:
    return "heard-" + hashlib.sha1(data).hexdigest()[:12]


class FakeBackends:
    """Engines that answer at once: each audio chunk is one utterance whose text is the chunk's
    digest; a chunk of an odd number of bytes fails the recognition stream like bad audio does;
    a translation prefixes the language; a synthesis is two short chunks."""

    async def recognize(self, requests):
        language = "en"
        count = 0
        async for request in requests:
            if request.HasField("config"):
                language = request.config.language or "en"
                continue
            data = request.audio.data
            if len(data) % 2:
                raise FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, "odd number of bytes")
            utterance = f"u{count}"
            count += 1
            for kind in (stt_pb2.SPEECH_EVENT_TYPE_SPEECH_STARTED,):
                yield stt_pb2.StreamingRecognizeResponse(
                    speech_event=stt_pb2.SpeechEvent(type=kind, utterance_id=utterance)
                )
            await asyncio.sleep(0)
            yield stt_pb2.StreamingRecognizeResponse(
                speech_event=stt_pb2.SpeechEvent(
                    type=stt_pb2.SPEECH_EVENT_TYPE_SPEECH_ENDED,
                    utterance_id=utterance,
                    offset=Duration(nanos=1_000_000),
                )
            )
            yield stt_pb2.StreamingRecognizeResponse(
                result=stt_pb2.RecognitionResult(
                    utterance_id=utterance, is_final=True, text=digest(data), language=language
                )
            )

    async def translates(self, source, target, deadline_s):
        return True

    async def speaks(self, language, deadline_s):
        return True

    async def translate(self, request, deadline_s):
        await asyncio.sleep(0)
        return translate_pb2.TranslateResponse(
            translations=[
                translate_pb2.Translation(
                    target_language=target,
                    text=f"[{target}] {text}",
                    route=translate_pb2.Route(summary="fake"),
                )
                for text in request.texts
                for target in request.target_languages
            ]
        )

    async def synthesize(self, request, deadline_s):
        for _ in range(2):
            await asyncio.sleep(0)
            yield tts_pb2.StreamingSynthesizeResponse(
                audio=b"\0" * 320,
                audio_format=request.audio_format,
                voice=tts_pb2.Voice(name="fake"),
            )

    async def close(self):
        pass


class Client:
    """One Join stream sending raw bytes (so that undecodable messages can be sent too) and
    recording what it receives."""

    def __init__(self, channel: grpc.aio.Channel, first: bytes | None) -> None:
        join = channel.stream_stream(
            JOIN_METHOD,
            request_serializer=lambda data: data,
            response_deserializer=rooms_pb2.JoinResponse.FromString,
        )
        self._requests: asyncio.Queue = asyncio.Queue()
        self.open = True
        if first is None:
            self.close()
        else:
            self._requests.put_nowait(first)
        self.call = join(_QueueIterator(self._requests))
        self.events: list[rooms_pb2.JoinResponse] = []
        self.error: grpc.aio.AioRpcError | None = None
        self.cancelled = False
        self.sent: list[str] = []  # digests of the audio chunks sent, in order
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for event in self.call:
                self.events.append(event)
        except grpc.aio.AioRpcError as exc:
            self.error = exc

    @property
    def id(self) -> str:
        return next((e.joined.participant_id for e in self.events if e.HasField("joined")), "")

    @property
    def room(self) -> str:
        return next((e.joined.room.room_id for e in self.events if e.HasField("joined")), "")

    def send(self, data: bytes) -> None:
        if self.open:
            self._requests.put_nowait(data)

    def audio(self, data: bytes) -> None:
        if self.open:
            self.sent.append(digest(data))
            self.send(
                rooms_pb2.JoinRequest(audio=audio_pb2.AudioChunk(data=data)).SerializeToString()
            )

    def close(self) -> None:
        if self.open:
            self.open = False
            self._requests.put_nowait(None)

    def cancel(self) -> None:
        self.open = False
        self.cancelled = True
        self.call.cancel()

    def of(self, kind: str) -> list:
        return [getattr(e, kind) for e in self.events if e.WhichOneof("event") == kind]


# Strategies. Rooms are symbolic (a and b exist, a is open and b needs its token, c does not
# exist and may be created on join); each example maps them to fresh room ids.


def mostly(valid, anything, share: int = 3):
    """``valid`` about ``share`` times in ``share + 1``, else ``anything`` (so that most
    clients get in and go on to do something)."""
    return st.integers(0, share).flatmap(lambda i: anything if i == share else valid)


VALID_LANGUAGES = st.sampled_from(["en", "es", "fr", "de", "pt-BR"])
LANGUAGES = mostly(
    VALID_LANGUAGES,
    st.sampled_from(["", "xx", "EN", "english", "e", "zh-Hant-TW", "és", " en ", "en\x00"])
    | st.text(max_size=12),
)
FORMATS = st.builds(
    audio_pb2.AudioFormat,
    encoding=st.integers(0, 4),
    sample_rate_hz=st.sampled_from([0, 16_000, 8_000, 48_000, 1, 999_999])
    | st.integers(0, 2**31 - 1),
    channels=st.integers(0, 3),
)
VALID_FORMAT = audio_pb2.AudioFormat(
    encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hz=16_000, channels=1
)


@dataclass
class JoinSpec:
    room: str
    token: str
    join: rooms_pb2.JoinRoom


JOINS = st.builds(
    lambda room, token, name, speak_language, listen, fin, fout, delivery, same, interim, create: (
        JoinSpec(
            room,
            token,
            rooms_pb2.JoinRoom(
                display_name=name,
                speak_language=speak_language,
                listen_language=listen,
                input_format=fin,
                output_format=fout,
                delivery=delivery,
                same_language_audio=same,
                interim_captions=interim,
                create_if_missing=create,
            ),
        )
    ),
    room=mostly(st.sampled_from(["a", "b"]), st.sampled_from(["c", "bad id!", ""])),
    token=mostly(st.just("right"), st.sampled_from(["wrong", ""])),
    name=st.text(max_size=80),
    speak_language=st.just("") | LANGUAGES,
    listen=LANGUAGES,
    fin=mostly(st.just(VALID_FORMAT), FORMATS),
    fout=mostly(st.just(VALID_FORMAT) | st.none(), FORMATS),
    delivery=mostly(st.integers(0, 3), st.integers(4, 2**31 - 1)),
    same=st.booleans(),
    interim=st.booleans(),
    create=st.booleans(),
)
UPDATES = st.builds(
    lambda listen, speak_language, muted, delivery, name: rooms_pb2.UpdateSettings(
        **{
            k: v
            for k, v in dict(
                listen_language=listen,
                speak_language=speak_language,
                muted=muted,
                delivery=delivery,
                display_name=name,
            ).items()
            if v is not None
        }
    ),
    listen=st.none() | LANGUAGES,
    speak_language=st.none() | LANGUAGES,
    muted=st.none() | st.booleans(),
    delivery=st.none() | st.integers(0, 3) | st.integers(-(2**31), 2**31 - 1),
    name=st.none() | st.text(max_size=20),
)
FIRSTS = mostly(
    st.tuples(st.just("join"), JOINS),
    st.one_of(
        st.tuples(st.just("none"), st.none()),
        st.tuples(st.just("empty"), st.none()),
        st.tuples(st.just("audio"), st.binary(max_size=64)),
        st.tuples(st.just("raw"), st.binary(min_size=1, max_size=64)),
    ),
    share=5,
)
# Audio: mostly whole 16-bit samples (which the fake recognises), else any bytes at all.
AUDIO = mostly(
    st.binary(min_size=2, max_size=2000).map(lambda b: b[: len(b) // 2 * 2]), st.binary()
)
ACTIONS = mostly(
    st.tuples(st.just("audio"), AUDIO),
    st.one_of(
        st.tuples(st.just("update"), UPDATES),
        st.tuples(st.just("join_again"), JOINS),
        st.tuples(st.just("empty"), st.none()),
        st.tuples(st.just("raw"), st.binary(min_size=1, max_size=200)),
        st.tuples(st.just("leave"), st.none()),
        st.tuples(st.just("half_close"), st.none()),
        st.tuples(st.just("cancel"), st.none()),
        st.tuples(st.just("pause"), st.floats(0, 0.1)),
    ),
    share=1,
)
SCRIPTS = st.tuples(
    st.lists(FIRSTS, min_size=1, max_size=5),
    st.lists(st.tuples(st.integers(0, 4), ACTIONS), min_size=1, max_size=25),
)


@dataclass
class World:
    """A room server with its servicer, a control pair in a room of its own, and fresh room
    ids for each example."""

    address: str
    servicer: object
    channel: grpc.aio.Channel
    control: tuple[Client, Client] | None = None
    counter: itertools.count = field(default_factory=itertools.count)


async def _control_pair(channel, room: str, speak_language="en", listen="es", create=True):
    """A speaker and a listener in an open room of their own; returns once both are in."""
    if create:
        await _create(channel, room, True)

    def joining(name, listen_language):
        return rooms_pb2.JoinRequest(
            join=rooms_pb2.JoinRoom(
                room_id=room,
                display_name=name,
                speak_language=speak_language,
                listen_language=listen_language,
                input_format=VALID_FORMAT,
                output_format=VALID_FORMAT,
            )
        ).SerializeToString()

    speaker = Client(channel, joining("control speaker", speak_language))
    listener = Client(channel, joining("control listener", listen))
    await _until(lambda: speaker.id and listener.id, 10)
    return speaker, listener


async def _create(channel, room: str, open_room: bool) -> str:
    create = channel.unary_unary(
        "/parley.v1.RoomService/CreateRoom",
        request_serializer=rooms_pb2.CreateRoomRequest.SerializeToString,
        response_deserializer=rooms_pb2.CreateRoomResponse.FromString,
    )
    reply = await create(
        rooms_pb2.CreateRoomRequest(
            room_id=room, open=open_room, limits=rooms_pb2.RoomLimits(max_participants=3)
        )
    )
    return reply.join_token


async def _serving(channel) -> bool:
    reply = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service="parley.v1.RoomService"), timeout=5
    )
    return reply.status == health_pb2.HealthCheckResponse.SERVING


@pytest.fixture(scope="module")
async def fake_world():
    async with serving_rooms("127.0.0.1:1", FakeBackends()) as (address, servicer):
        async with grpc.aio.insecure_channel(address) as channel:
            world = World(address, servicer, channel)
            world.control = await _control_pair(channel, "fuzz-control")
            yield world
            for client in world.control:
                client.close()


def _first_message(kind: str, value, rooms: dict[str, str], tokens: dict[str, str]):
    if kind == "none":
        return None
    if kind == "empty":
        return b""
    if kind == "audio":
        return rooms_pb2.JoinRequest(audio=audio_pb2.AudioChunk(data=value)).SerializeToString()
    if kind == "raw":
        return value
    return _join_bytes(value, rooms, tokens)


def _join_bytes(spec: JoinSpec, rooms: dict[str, str], tokens: dict[str, str]) -> bytes:
    join = rooms_pb2.JoinRoom()
    join.CopyFrom(spec.join)
    join.room_id = rooms.get(spec.room, spec.room)
    join.join_token = {"right": tokens.get(spec.room, ""), "wrong": "not-the-token"}.get(
        spec.token, ""
    )
    return rooms_pb2.JoinRequest(join=join).SerializeToString()


async def run_script(world: World, script, real: bool = False) -> None:
    """Plays one example: joins, actions, then every client still open half-closes; checks the
    four properties."""
    firsts, actions = script
    n = next(world.counter)
    rooms = {"a": f"fz{n}-a", "b": f"fz{n}-b", "c": f"fz{n}-c"}
    tokens = {
        "a": await _create(world.channel, rooms["a"], True),
        "b": await _create(world.channel, rooms["b"], False),
    }
    clients: list[Client] = []
    async with asyncio.timeout(EXAMPLE_DEADLINE_S):
        for kind, value in firsts:
            clients.append(Client(world.channel, _first_message(kind, value, rooms, tokens)))
            await asyncio.sleep(0)
        for index, (kind, value) in actions:
            client = clients[index % len(clients)]
            if kind == "audio":
                client.audio(value)
            elif kind == "update":
                client.send(rooms_pb2.JoinRequest(update_settings=value).SerializeToString())
            elif kind == "join_again":
                client.send(_join_bytes(value, rooms, tokens))
            elif kind == "empty":
                client.send(b"")
            elif kind == "raw":
                client.send(value)
            elif kind == "leave":
                client.send(rooms_pb2.JoinRequest(leave=rooms_pb2.LeaveRoom()).SerializeToString())
                client.close()
            elif kind == "half_close":
                client.close()
            elif kind == "cancel":
                client.cancel()
            elif kind == "pause":
                await asyncio.sleep(value)
            if real:
                await asyncio.sleep(0.05)
        if real:  # a second of silence ends what anyone was saying
            for client in clients:
                client.audio(bytes(32_000))
        await _quiet(clients, 1.5 if real else 0.2, within_s=15)
        for client in clients:
            client.close()
        # No hang: every stream ends once its client has ended it.
        done, pending = await asyncio.wait([c.reader for c in clients], timeout=STREAM_END_S)
        assert not pending, f"{len(pending)} Join streams did not end after their client did"
    event(f"clients in a room: {sum(1 for c in clients if c.id)} of {len(clients)}")
    captions = sum(len(c.of("caption")) for c in clients)
    event(f"captions: {'none' if not captions else '1-5' if captions <= 5 else 'over 5'}")
    for client in clients:
        event(f"status {client.error.code().name if client.error else 'OK'}")
    check_statuses(clients)
    check_no_foreign_data(clients, fake=not real)
    # No leaked state, and the server still answers.
    assert await leftovers(world.servicer, set(rooms.values())) == []
    assert await _serving(world.channel)


def check_statuses(clients: list[Client]) -> None:
    for client in clients:
        if client.error is None:
            continue
        code = client.error.code()
        if code == grpc.StatusCode.CANCELLED and client.cancelled:
            continue
        if code == grpc.StatusCode.INTERNAL and _client_write_race(client.error):
            continue
        assert code in ALLOWED, f"a Join stream ended with {code.name}: {client.error.details()}"
        # A clear status comes with a message saying what was wrong.
        assert client.error.details(), code


def _client_write_race(error: grpc.aio.AioRpcError) -> bool:
    """gRPC's asyncio client replaces the status the server sent with INTERNAL when one of
    its writes fails because the server has just ended the call (grpc/grpc#36066): a client
    library race, not the server's answer."""
    return error.details() == "Internal error from Core" and "SendMessage" in (
        error.debug_error_string() or ""
    )


def check_no_foreign_data(clients: list[Client], fake: bool = True) -> None:
    """Every event concerns the client's own room: ids of its members and, on the fake
    engines, captions of its own audio, each speaker's in the order they were sent."""
    members: dict[str, set[str]] = {}
    heard: dict[str, set[str]] = {}
    order: dict[str, list[str]] = {}
    for client in clients:
        if client.id:
            members.setdefault(client.room, set()).add(client.id)
            heard.setdefault(client.room, set()).update(client.sent)
            order[client.id] = client.sent
    for client in clients:
        if not client.id:
            assert not client.events, f"a client that never joined got {client.events[:3]}"
            continue
        ids, texts = members[client.room], heard[client.room]
        assert {client.room} == {j.room.room_id for j in client.of("joined")}
        for joined in client.of("joined"):
            assert {p.participant_id for p in joined.room.participants} <= ids
        mentioned = [
            getattr(e, k).participant.participant_id
            for e in client.events
            if (k := e.WhichOneof("event"))
            in ("participant_joined", "participant_left", "participant_updated")  # fmt: skip
        ]
        assert set(mentioned) <= ids, f"{client.room}: heard of {set(mentioned) - ids}"
        by_speaker: dict[str, list[str]] = {}
        for caption in client.of("caption"):
            assert caption.speaker_id in ids, f"{client.room}: caption of {caption.speaker_id}"
            assert caption.utterance_id.split(".")[0] in ids
            if not fake:
                continue
            assert caption.original_text in texts, f"{client.room}: {caption.original_text}"
            if caption.is_final and caption.speaker_id != client.id:
                by_speaker.setdefault(caption.speaker_id, []).append(caption.original_text)
        for kind in ("audio_begin", "audio_chunk", "audio_end"):
            for item in client.of(kind):
                assert item.utterance_id.split(".")[0] in ids, f"{kind} {item.utterance_id}"
        for notice in client.of("notice"):
            if notice.utterance_id:
                assert notice.utterance_id.split(".")[0] in ids, notice
        for speaker, got in by_speaker.items():
            sent = order[speaker]
            positions = [sent.index(text) for text in got]
            assert positions == sorted(positions), f"captions of {speaker} out of order"


async def _control_still_works(world: World, tag: str) -> None:
    speaker, listener = world.control
    data = tag.encode().ljust(16, b"!")[:16]
    speaker.audio(data)
    await _until(
        lambda: digest(data) in [c.original_text for c in listener.of("caption")],
        10,
        "the control listener's caption",
    )
    for client in world.control:
        assert client.error is None
    check_no_foreign_data(list(world.control))


class _Recorded(Client):
    """A client made of recorded events, to test the checks themselves."""

    def __init__(self, events, sent=()) -> None:
        self.events, self.sent, self.error, self.cancelled = list(events), list(sent), None, False


def test_the_checks_see_another_rooms_data_and_disorder():
    def joined(pid, room):
        return rooms_pb2.JoinResponse(
            joined=rooms_pb2.Joined(participant_id=pid, room=rooms_pb2.Room(room_id=room))
        )

    def caption(speaker, data):
        return rooms_pb2.JoinResponse(
            caption=rooms_pb2.Caption(
                utterance_id=f"{speaker}.1.u0", speaker_id=speaker, is_final=True,
                original_text=digest(data),
            )
        )  # fmt: skip

    ana = _Recorded([joined("A", "r1")], sent=[digest(b"1"), digest(b"2")])
    zed = _Recorded([joined("Z", "r2")], sent=[digest(b"z")])
    check_no_foreign_data([ana, zed, _Recorded([joined("B", "r1"), caption("A", b"1")])])
    for wrong in (
        [joined("B", "r1"), caption("Z", b"z")],  # a speaker of another room
        [joined("B", "r1"), caption("A", b"z")],  # another room's words
        [joined("B", "r1"), caption("A", b"2"), caption("A", b"1")],  # out of order
    ):
        with pytest.raises(AssertionError):
            check_no_foreign_data([ana, zed, _Recorded(wrong)])


@FUZZ
@given(script=SCRIPTS)
@example(  # a second join, audio before and after a mute, a cancel mid-utterance
    script=(
        [
            (
                "join",
                JoinSpec(
                    "a",
                    "",
                    rooms_pb2.JoinRoom(
                        speak_language="en", listen_language="es", input_format=VALID_FORMAT
                    ),
                ),
            ),
            ("join", JoinSpec("a", "", rooms_pb2.JoinRoom(listen_language="fr"))),
            ("join", JoinSpec("b", "right", rooms_pb2.JoinRoom(listen_language="de"))),
        ],
        [
            (0, ("audio", b"ab" * 100)),
            (0, ("join_again", JoinSpec("b", "right", rooms_pb2.JoinRoom()))),
            (0, ("update", rooms_pb2.UpdateSettings(muted=True))),
            (0, ("audio", b"cd" * 10)),
            (0, ("update", rooms_pb2.UpdateSettings(muted=False, speak_language="es"))),
            (0, ("audio", b"ef" * 10)),
            (2, ("audio", b"gh" * 10)),
            (1, ("cancel", None)),
            (0, ("audio", b"odd")),
            (0, ("audio", b"ij" * 4)),
        ],
    )  # fmt: skip
)
async def test_random_clients_never_break_a_room(fake_world, script):
    await run_script(fake_world, script)
    await _control_still_works(fake_world, f"after {next(fake_world.counter)}")


async def test_a_room_created_again_after_removal_delivers_to_its_new_members():
    """Found by fuzzing: a room's fan-out outlived the room (removed once empty for its
    timeout), so that a room created again under the same id delivered every utterance to the
    old room's members: nobody."""
    async with serving_rooms("127.0.0.1:1", FakeBackends()) as (address, servicer):
        async with grpc.aio.insecure_channel(address) as channel:
            create = channel.unary_unary(
                "/parley.v1.RoomService/CreateRoom",
                request_serializer=rooms_pb2.CreateRoomRequest.SerializeToString,
                response_deserializer=rooms_pb2.CreateRoomResponse.FromString,
            )
            limits = rooms_pb2.RoomLimits(empty_timeout=Duration(nanos=200_000_000))
            request = rooms_pb2.CreateRoomRequest(room_id="again", open=True, limits=limits)
            await create(request)
            first, second = await _control_pair(channel, "again", create=False)
            first.audio(b"hello!")
            await _until(lambda: second.of("caption"))
            for client in (first, second):
                client.close()
                await client.reader
            await _until(
                lambda: "again" not in [r.room_id for r in servicer.directory.registry.list()]
            )
            await create(request)
            speaker, listener = await _control_pair(channel, "again", create=False)
            speaker.audio(b"hello again!")
            await _until(lambda: listener.of("caption"))
            assert listener.of("caption")[0].original_text == digest(b"hello again!")
            for client in (speaker, listener):
                client.close()
                await client.reader
            assert await leftovers(servicer, {"again"}) == []


# The real engines: random audio (noise and real speech cut anywhere) and events into one
# room; then a control room still gets a real translated caption.
HELLO = "Good morning, how are you today?"


@pytest.fixture(scope="module")
async def real_world(engines):
    async with serving_rooms(engines, stt_model="whisper-tiny.en") as (address, servicer):
        async with grpc.aio.insecure_channel(address) as channel:
            yield World(address, servicer, channel)


def _speech_bytes() -> bytes:
    return pcm16(np.concatenate([silence(0.2), speak(HELLO, "en"), silence(0.8)]))


REAL_ACTIONS = mostly(
    st.tuples(st.just("speech"), st.integers(0, 20)),
    st.one_of(
        st.tuples(st.just("audio"), st.binary(min_size=0, max_size=8000)),
        st.tuples(st.just("update"), UPDATES),
        st.tuples(st.just("empty"), st.none()),
        st.tuples(st.just("leave"), st.none()),
        st.tuples(st.just("cancel"), st.none()),
        st.tuples(st.just("pause"), st.floats(0, 0.3)),
    ),
    share=1,
)
REAL_JOINS = st.builds(
    lambda listen, delivery: ("join", JoinSpec("a", "", rooms_pb2.JoinRoom(
        speak_language="en", listen_language=listen, input_format=VALID_FORMAT,
        output_format=VALID_FORMAT, delivery=delivery))),
    listen=st.sampled_from(["en", "es", "fr"]),
    delivery=st.integers(0, 3),
)  # fmt: skip
REAL_SCRIPTS = st.tuples(
    st.lists(REAL_JOINS, min_size=2, max_size=3),
    st.lists(st.tuples(st.integers(0, 2), REAL_ACTIONS), min_size=3, max_size=10),
)


def _with_speech(script):
    """Turns ("speech", k) into the k-th twentieth of a spoken sentence onwards, in 100 ms
    chunks (so that speech may start anywhere, even mid-word)."""
    firsts, actions = script
    pcm = _speech_bytes()
    out = []
    for index, (kind, value) in actions:
        if kind == "speech":
            start = len(pcm) * value // 20 // 2 * 2
            out += [(index, ("audio", pcm[i : i + 3200])) for i in range(start, len(pcm), 3200)]
        else:
            out.append((index, (kind, value)))
    return firsts, out


@settings(FUZZ, max_examples=4)
@given(script=REAL_SCRIPTS)
async def test_random_clients_on_the_real_engines(real_world, script):
    await run_script(real_world, _with_speech(script), real=True)


async def test_after_fuzzing_a_control_room_still_gets_a_real_translation(real_world):
    world = real_world
    assert await _serving(world.channel)
    speaker, listener = await _control_pair(world.channel, "control-after-fuzz")
    data = _speech_bytes()
    for i in range(0, len(data), 3200):
        speaker.audio(data[i : i + 3200])
        await asyncio.sleep(0.02)
    await _until(lambda: [c for c in listener.of("caption") if c.is_final], 60, "a caption")
    (caption,) = [c for c in listener.of("caption") if c.is_final]
    assert caption.language == "es" and "buen" in caption.text.lower(), caption
    check_no_foreign_data([speaker, listener], fake=False)
    for client in (speaker, listener):
        client.close()
    await asyncio.wait_for(asyncio.gather(speaker.reader, listener.reader), STREAM_END_S)
    assert speaker.error is None and listener.error is None
    assert await leftovers(world.servicer, {"control-after-fuzz"}) == []
