"""Bad input to a room: each gets a clear status or notice, and the room carries on (another
participant still gets a real translated caption afterwards).

Audio before JoinRoom, an unknown room, a bad listen-language code and a wrong join token are
in test_lifecycle.py.
"""

from __future__ import annotations

import asyncio

import grpc
import numpy as np

from parley.server import ServerConfig, running
from parley.v1 import audio_pb2, rooms_pb2, rooms_pb2_grpc
from services.rooms.config import RoomsConfig
from services.rooms.servicer import service as rooms_service
from tests.rooms.conftest import Participant, join, room_server
from tests.speech import pcm16, silence, speak, voiced_span_ms

HELLO = "Good morning, how are you today?"
TINY = {"stt_model": "whisper-tiny.en"}  # English speakers only: the fastest model


def utterance(text: str = HELLO) -> np.ndarray:
    return np.concatenate([silence(0.3), speak(text, "en"), silence(1.2)])


class RawStub:
    """A RoomService stub whose Join sends bytes as they are (messages are serialized)."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.Join = channel.stream_stream(
            "/parley.v1.RoomService/Join",
            request_serializer=lambda m: m if isinstance(m, bytes) else m.SerializeToString(),
            response_deserializer=rooms_pb2.JoinResponse.FromString,
        )


async def joined(*people: Participant) -> None:
    for p in people:
        await p.wait_for(lambda e, p=p: p.of("joined"))


async def room_with_listener(stub, room_id: str) -> Participant:
    """An open room with Luis, who listens in Spanish."""
    await stub.CreateRoom(rooms_pb2.CreateRoomRequest(room_id=room_id, open=True))
    luis = Participant(stub, join(room_id, "Luis", "es", "es"))
    await joined(luis)
    return luis


async def carries_on(stub, room_id: str, listener: Participant) -> rooms_pb2.Caption:
    """A well-behaved speaker joins and speaks; the listener gets the real translation."""
    good = Participant(stub, join(room_id, "Gwen", "en", "en"))
    await joined(good)
    good.send_audio(utterance())
    (caption,) = await listener.wait_for(
        lambda e: [c for c in listener.finals() if c.speaker_id == good.id]
    )
    assert "buen" in caption.text.lower() and "hoy" in caption.text.lower(), caption.text
    await good.close()
    return caption


def notices(p: Participant, code: int) -> list[rooms_pb2.Notice]:
    return [n for n in p.of("notice") if n.code == code]


async def test_garbage_bytes_as_audio(engines):
    async with room_server(engines, **TINY) as (stub, _):
        luis = await room_with_listener(stub, "noise")
        noisy = Participant(stub, join("noise", "Noisy", "en", "en"))
        await joined(noisy)
        garbage = np.random.default_rng(5).integers(0, 256, 32_000 * 2, dtype=np.uint8)
        for i in range(0, garbage.size, 3200):
            noisy.send(audio=audio_pb2.AudioChunk(data=garbage[i : i + 3200].tobytes()))
        # The same stream then speaks: it was not broken by the noise.
        noisy.send_audio(utterance())
        captions = await luis.wait_for(
            lambda e: [c for c in luis.finals() if "buen" in c.text.lower()]
        )
        assert captions[0].speaker_id == noisy.id and noisy.error is None
        await carries_on(stub, "noise", luis)
        for p in (noisy, luis):
            await p.close()


async def test_wrong_sample_rate_claims(engines):
    async with room_server(engines, **TINY) as (stub, _):
        luis = await room_with_listener(stub, "rates")
        impossible = Participant(
            stub,
            join("rates", "Bat", "en", "en", input_format=audio_pb2.AudioFormat(sample_rate_hz=5)),
        )
        await impossible.wait_for(lambda e: False)
        assert impossible.error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "outside 8000-192000 Hz" in impossible.error.details()

        # Claims 8 kHz, sends 16 kHz: heard at half speed. Whatever is recognised, nothing breaks.
        liar = Participant(
            stub,
            join(
                "rates", "Liar", "en", "en", input_format=audio_pb2.AudioFormat(sample_rate_hz=8000)
            ),
        )
        await joined(liar)
        liar.send_audio(utterance("Thank you very much."))
        await carries_on(stub, "rates", luis)  # another speaker's utterance came through after
        assert liar.error is None
        for p in (liar, luis):
            await p.close()


async def test_odd_byte_counts(engines):
    async with room_server(engines, **TINY) as (stub, _):
        luis = await room_with_listener(stub, "odd")
        ana = Participant(stub, join("odd", "Ana", "en", "en"))
        await joined(ana)
        ana.send_audio(utterance(), chunk_bytes=1001)  # every chunk splits a sample
        ana.send(audio=audio_pb2.AudioChunk(data=b"\x01"))  # and a lone byte at the end
        (caption,) = await luis.wait_for(lambda e: luis.finals())
        assert "buen" in caption.text.lower() and "hoy" in caption.text.lower(), caption.text
        assert ana.error is None
        await carries_on(stub, "odd", luis)
        for p in (ana, luis):
            await p.close()


async def test_join_twice_is_a_notice_and_the_stream_goes_on(engines):
    async with room_server(engines, **TINY) as (stub, _):
        luis = await room_with_listener(stub, "twice")
        ana = Participant(stub, join("twice", "Ana", "en", "en"))
        await joined(ana)
        ana.send(join=join("twice", "Ana again", "en", "fr"))
        ana.send()  # and an empty JoinRequest
        (already, empty) = await ana.wait_for(
            lambda e: (
                len(notices(ana, rooms_pb2.NOTICE_CODE_INVALID_INPUT)) >= 2
                and notices(ana, rooms_pb2.NOTICE_CODE_INVALID_INPUT)
            )
        )
        assert "already in the room" in already.message and "empty" in empty.message
        room = await stub.GetRoom(rooms_pb2.GetRoomRequest(room_id="twice"))
        assert sorted(p.display_name for p in room.room.participants) == ["Ana", "Luis"]
        ana.send_audio(utterance())
        (caption,) = await luis.wait_for(lambda e: luis.finals())
        assert caption.speaker_id == ana.id and "buen" in caption.text.lower()
        for p in (ana, luis):
            await p.close()


async def test_unknown_languages(engines):
    async with room_server(engines, **TINY) as (stub, _):
        luis = await room_with_listener(stub, "babel")
        # A listen language no engine serves: the caption carries the original, with a notice.
        zed = Participant(stub, join("babel", "Zed", "en", "zz"))
        # A spoken language the recogniser does not know: told, and the room goes on.
        xavi = Participant(stub, join("babel", "Xavi", "xx", "es"))
        await joined(zed, xavi)
        xavi.send_audio(utterance())
        (failed, *_) = await xavi.wait_for(
            lambda e: notices(xavi, rooms_pb2.NOTICE_CODE_RECOGNITION_FAILED)
        )
        assert "xx" in failed.message and "INVALID_ARGUMENT" in failed.message, failed.message
        assert "does not recognise 'xx'" in failed.message
        caption = await carries_on(stub, "babel", luis)
        # One notice, not one per chunk (by now, another speaker's whole utterance has been
        # recognised and delivered): the audio is ignored until the settings change.
        assert len(notices(xavi, rooms_pb2.NOTICE_CODE_RECOGNITION_FAILED)) == 1
        (to_zed,) = await zed.wait_for(
            lambda e: [c for c in zed.finals() if c.utterance_id == caption.utterance_id]
        )
        assert to_zed.text == to_zed.original_text and "morning" in to_zed.original_text.lower()
        (notice,) = await zed.wait_for(
            lambda e: [
                n
                for n in notices(zed, rooms_pb2.NOTICE_CODE_TRANSLATION_FAILED)
                if "no translation into zz" in n.message
            ]
        )
        assert notice.language == "zz"
        # And at join already: who will be heard untranslated.
        told = [n.message for n in notices(zed, rooms_pb2.NOTICE_CODE_TRANSLATION_FAILED)]
        assert any("nothing here translates es into zz" in m and "Luis" in m for m in told), told
        assert zed.error is None and xavi.error is None
        for p in (zed, xavi, luis):
            await p.close()


def _bad_utf8(message: rooms_pb2.JoinRequest, text: str) -> bytes:
    """``message`` serialized with ``text`` (which must contain 'ë') as invalid UTF-8."""
    data = message.SerializeToString()
    good = text.encode()
    assert data.count(good) == 1
    return data.replace(good, good.replace("ë".encode(), b"\xeb\xeb"))


async def test_invalid_utf8(engines):
    async with room_server(engines, **TINY) as (stub, _):
        luis = await room_with_listener(stub, "utf8")
        async with grpc.aio.insecure_channel(stub.address) as channel:
            raw = RawStub(channel)
            bad_join = rooms_pb2.JoinRequest(join=join("utf8", "Zoë", "en", "en"))
            refused = Participant(raw, join("utf8", "x", "en", "en"))
            refused._requests.get_nowait()  # replace the JoinRoom by an undecodable one
            refused._requests.put_nowait(_bad_utf8(bad_join, "Zoë"))
            await refused.wait_for(lambda e: False)
            assert refused.error.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "JoinRequest message cannot be decoded" in refused.error.details()
            assert "UTF-8" in refused.error.details()

            # Mid-stream, an undecodable message is reported and skipped; the stream goes on.
            zoe = Participant(raw, join("utf8", "Zoe", "en", "en"))
            await joined(zoe)
            rename = rooms_pb2.JoinRequest(
                update_settings=rooms_pb2.UpdateSettings(display_name="Zoë")
            )
            zoe._requests.put_nowait(_bad_utf8(rename, "Zoë"))
            (notice,) = await zoe.wait_for(
                lambda e: notices(zoe, rooms_pb2.NOTICE_CODE_INVALID_INPUT)
            )
            assert "cannot be decoded" in notice.message and "ignored" in notice.message
            zoe.send_audio(utterance())
            (caption,) = await luis.wait_for(lambda e: luis.finals())
            assert caption.speaker_name == "Zoe" and "buen" in caption.text.lower()
            assert zoe.error is None
            for p in (zoe, luis):
                await p.close()


async def test_a_stream_that_never_sends_is_ended(engines):
    async with room_server(engines, join_first_message_timeout_s=0.5, **TINY) as (stub, _):
        luis = await room_with_listener(stub, "mute")
        silent = stub.Join(_Never())
        started = asyncio.get_running_loop().time()
        try:
            async for _ in silent:
                pass
            raise AssertionError("the stream should have ended with an error")
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert "PARLEY_ROOMS_JOIN_FIRST_MESSAGE_TIMEOUT_S" in exc.details()
        assert asyncio.get_running_loop().time() - started < 5
        await carries_on(stub, "mute", luis)
        await luis.close()


class _Never:
    """A request stream that sends nothing and never ends."""

    def __aiter__(self):
        return self

    async def __anext__(self):
        await asyncio.Event().wait()


async def test_a_speaker_who_disappears_mid_utterance(engines):
    async with room_server(engines, **TINY) as (stub, _):
        luis = await room_with_listener(stub, "gone")
        ana = Participant(stub, join("gone", "Ana", "en", "en"))
        await joined(ana)
        speech = speak("Good morning everyone, I would like to talk about the budget.", "en")
        ana.send_audio(np.concatenate([silence(0.3), speech[: speech.size // 2]]))
        await luis.wait_for(
            lambda e: [u for u in luis.of("participant_updated") if u.participant.speaking]
        )
        ana.disconnect()
        (left,) = await luis.wait_for(lambda e: luis.of("participant_left"))
        assert left.reason == rooms_pb2.LEAVE_REASON_DISCONNECTED
        await carries_on(stub, "gone", luis)
        room = await stub.GetRoom(rooms_pb2.GetRoomRequest(room_id="gone"))
        assert [p.display_name for p in room.room.participants] == ["Luis"]
        await luis.close()


async def test_audio_faster_than_real_time_is_paced_with_a_notice(engines):
    async with room_server(engines, join_audio_burst_s=1.0, **TINY) as (stub, _):
        luis = await room_with_listener(stub, "fast")
        ana = Participant(stub, join("fast", "Ana", "en", "en"))
        await joined(ana)
        speech = np.concatenate([silence(2.0), utterance()])
        started = asyncio.get_running_loop().time()
        ana.send_audio(speech)  # about 6 s of audio at once
        (notice,) = await ana.wait_for(lambda e: notices(ana, rooms_pb2.NOTICE_CODE_RATE_LIMITED))
        assert "join_audio_burst_s" in notice.message
        assert "PARLEY_ROOMS_JOIN_AUDIO_BURST_S" in notice.message
        (caption,) = await luis.wait_for(lambda e: luis.finals())
        # Read at real-time pace after the first second: nothing lost, and the caption not
        # before the speech itself ended in that paced time (sent at once, the whole clip
        # would be recognised within about a second).
        speech_end_s = voiced_span_ms(speech)[1] / 1000
        assert asyncio.get_running_loop().time() - started >= speech_end_s - 1.0
        assert "buen" in caption.text.lower() and "hoy" in caption.text.lower()
        assert ana.error is None
        for p in (ana, luis):
            await p.close()


async def test_limits_answer_resource_exhausted_naming_the_limit(engines):
    config = RoomsConfig(
        stt_address=engines, translate_address=engines, tts_address=engines, max_rooms=1, **TINY
    )
    server_config = ServerConfig(
        host="127.0.0.1", port=0, auth="disabled", max_message_bytes=64 * 1024
    )
    async with running([rooms_service(config)], server_config) as server:
        async with grpc.aio.insecure_channel(server.local_address) as channel:
            stub = rooms_pb2_grpc.RoomServiceStub(channel)
            luis = await room_with_listener(stub, "only")
            try:
                await stub.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="second"))
                raise AssertionError("a second room was created")
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert "max_rooms" in exc.details()

            # A message over the server's size limit ends that stream only.
            big = Participant(stub, join("only", "Big", "en", "en"))
            await joined(big)
            big.send(audio=audio_pb2.AudioChunk(data=pcm16(silence(3.0))))  # 96 KB
            await big.wait_for(lambda e: False)
            assert big.error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "max" in big.error.details().lower()
            await carries_on(stub, "only", luis)
            await luis.close()
