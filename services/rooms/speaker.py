"""One speaking participant: their audio goes to a recognition stream, and each final
transcript goes to the room's fan-out, one utterance after the other (in order)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence

import grpc

from parley.logs import get_logger
from parley.rpc import audio_format_to_proto
from parley.v1 import audio_pb2, rooms_pb2, stt_pb2
from services.rooms.backends import Backends
from services.rooms.decoding import DECODED
from services.rooms.fanout import FanOut, Utterance, notice
from services.rooms.room import Member, Room
from services.rooms.tasks import TaskOwner
from services.rooms.unrecognised import Unrecognised

log = get_logger(__name__)

MAX_RETRIES = 3  # new attempts at once after broken streams, with no final result between


class AudioClock:
    """When each part of a recognition stream's audio arrived, to time the endpointing stage
    (offsets are the stream's: a new stream starts the clock again)."""

    def __init__(self, bytes_per_ms: float) -> None:
        self._bytes_per_ms = bytes_per_ms
        self._received = 0
        self._marks: deque[tuple[float, float]] = deque(maxlen=2000)  # (offset ms, wall time)

    def restart(self) -> None:
        """A new stream: its audio's offsets count from 0 again."""
        self._received = 0
        self._marks.clear()

    def mark(self, size: int) -> None:
        self._received += size
        self._marks.append((self._received / self._bytes_per_ms, time.perf_counter()))

    def wall_time(self, offset_ms: float) -> float | None:
        """Wall time at which audio at ``offset_ms`` arrived, if still known."""
        for end_ms, wall in self._marks:
            if end_ms >= offset_ms:
                return wall
        return None


class SpeakerStream:
    """Recognition and in-order delivery for one member. Its tasks are ``tasks``' (the
    room's): the delivery of its utterances, and a recognition stream while there is speech."""

    def __init__(
        self, room: Room, member: Member, backends: Backends, fanout: FanOut, model: str,
        tasks: TaskOwner,
    ) -> None:  # fmt: skip
        self._room = room
        self._tasks = tasks
        self._member = member
        self._backends = backends
        self._fanout = fanout
        self._model = model
        self._audio: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._finals: asyncio.Queue[Utterance | None] = asyncio.Queue()
        # What it is given: compressed audio comes decoded (services.rooms.decoding).
        self._format = DECODED if member.input_format.compressed else member.input_format
        bytes_per_ms = self._format.sample_rate * self._format.frame_bytes / 1000
        self._clock = AudioClock(bytes_per_ms)
        # Bounded by the longest utterance the recogniser keeps, and 5 s more.
        limit_ms = room.max_utterance_ms + 5_000
        self._unrecognised = Unrecognised(bytes_per_ms, int(limit_ms * bytes_per_ms))
        self._generation = 0
        self._ended_at: dict[str, float] = {}
        self._recognizer: asyncio.Task | None = None
        self._refused = False  # the recogniser refused this member's settings
        self._finishing = False
        self._retries = 0  # attempts made at once since the last final result
        self._deliverer = tasks.spawn(self._deliver(), "deliver")

    def feed(self, data: bytes) -> None:
        """Takes the member's next audio (ignored while muted)."""
        if self._member.muted or not data or self._refused:
            return
        if self._recognizer is None or self._recognizer.done():
            self._recognizer = self._tasks.spawn(self._recognize(), "recognize")
        self._audio.put_nowait(data)

    async def finish(self, timeout_s: float) -> None:
        """Ends the stream after the audio received so far is recognised and delivered. A
        recognition service that has not answered within ``timeout_s`` is given up on (what it
        had answered is still delivered)."""
        self._finishing = True
        self._audio.put_nowait(None)
        if self._recognizer is not None:
            _, late = await asyncio.wait([self._recognizer], timeout=timeout_s)
            if late:
                log.warning("recognition did not finish: given up", timeout_s=timeout_s)
                self._recognizer.cancel()
        self._finals.put_nowait(None)
        await asyncio.gather(self._deliverer, return_exceptions=True)

    def cancel(self) -> None:
        for task in (self._recognizer, self._deliverer):
            if task is not None:
                task.cancel()

    def _config(self) -> stt_pb2.RecognitionConfig:
        return stt_pb2.RecognitionConfig(
            model=self._model,
            language=self._member.speak_language,
            interim_results=any(m.interim_captions for m in self._room.members.values()),
            speech_events=True,
            audio_format=audio_pb2.AudioFormat(
                encoding=audio_format_to_proto(self._format).encoding,
                sample_rate_hz=self._format.sample_rate,
                channels=self._format.channels,
            ),
            endpointing=stt_pb2.EndpointingConfig(max_utterance_ms=self._room.max_utterance_ms),
        )

    async def _requests(self, again: Sequence[bytes]):
        """The config, then ``again`` (what a broken stream had not recognised), then the
        member's audio as it comes."""
        yield stt_pb2.StreamingRecognizeRequest(config=self._config())
        for data in again:  # arrived earlier; timed from now, as it is heard from now
            self._clock.mark(len(data))
            self._unrecognised.sent(data)
            yield stt_pb2.StreamingRecognizeRequest(audio=audio_pb2.AudioChunk(data=data))
        while (data := await self._audio.get()) is not None:
            self._clock.mark(len(data))
            self._unrecognised.sent(data)
            yield stt_pb2.StreamingRecognizeRequest(audio=audio_pb2.AudioChunk(data=data))

    async def _recognize(self, again: Sequence[bytes] = ()) -> None:
        """One recognition stream; ``again``: audio a broken one had not recognised."""
        self._generation += 1
        self._unrecognised.take()  # a new stream, whose offsets start at 0
        self._clock.restart()
        answered = False
        try:
            async for response in self._backends.recognize(self._requests(again)):
                answered = True
                if response.HasField("speech_event"):
                    self._on_speech_event(response.speech_event)
                else:
                    self._on_result(response.result)
        except grpc.aio.AioRpcError as exc:
            log.warning("recognition stream failed", error=exc.details())
            refusal = None if answered else await self._refusal()
            self._refused = refusal is not None
            # A stream that worked and broke (its server died) leaves audio no final covered,
            # some of it perhaps arrived before the failure was noticed: a new attempt is given
            # it at once, instead of when the member next speaks. After any other end that
            # audio is dropped; a stream that never answered waits for new audio, and attempts
            # with no final between them stop after a few, so a server that is down or fails
            # on this audio is not called in a loop.
            broken = exc.code() == grpc.StatusCode.UNAVAILABLE and answered
            self._retries = self._retries + 1 if broken else 0
            retry = broken and self._retries <= MAX_RETRIES and not self._finishing
            self._room.send(
                self._member,
                notice(
                    rooms_pb2.NOTICE_CODE_RECOGNITION_FAILED,
                    f"speech recognition refused your settings ({refusal}); change "
                    "speak_language to be heard"
                    if refusal
                    else f"speech recognition failed ({exc.code().name}: {exc.details()}); "
                    + ("a new attempt takes what you said since your last caption" if retry
                       else "your next words start a new attempt"),
                ),
            )  # fmt: skip
            if retry:
                again = self._unrecognised.take()
                self._recognizer = self._tasks.spawn(self._recognize(again), "recognize")
        finally:
            if self._member.speaking:
                self._set_speaking(False)

    async def _refusal(self) -> str | None:
        """Why the recogniser refuses this member's config (INVALID_ARGUMENT), else None."""
        check = getattr(self._backends, "check_recognition", None)
        if check is None:
            return None
        try:
            await check(self._config(), 5.0)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                return f"{exc.code().name}: {exc.details()}"
        return None

    def _utterance_id(self, result: stt_pb2.RecognitionResult) -> str:
        """The room's id of a result: one per segment of a recognised utterance (the first
        segment keeps the utterance's own id)."""
        base = f"{self._member.participant_id}.{self._generation}.{result.utterance_id}"
        return f"{base}.{result.segment_index}" if result.segment_index else base

    def _on_speech_event(self, event: stt_pb2.SpeechEvent) -> None:
        if event.type == stt_pb2.SPEECH_EVENT_TYPE_SPEECH_STARTED:
            self._set_speaking(True)
        elif event.type == stt_pb2.SPEECH_EVENT_TYPE_SPEECH_ENDED:
            self._ended_at[event.utterance_id] = time.perf_counter()
            spoke_until = self._clock.wall_time(event.offset.ToMilliseconds())
            if spoke_until is not None:
                self._ended_at[event.utterance_id + ".speech"] = spoke_until
            self._set_speaking(False)

    def _set_speaking(self, speaking: bool) -> None:
        self._member.speaking = speaking
        if self._member.participant_id in self._room.members:
            self._room.broadcast(
                rooms_pb2.JoinResponse(
                    participant_updated=rooms_pb2.ParticipantUpdated(
                        participant=self._member.to_proto()
                    )
                )
            )

    def _on_result(self, result: stt_pb2.RecognitionResult) -> None:
        utterance_id = self._utterance_id(result)
        if result.is_final:
            self._unrecognised.covered(result.end_offset.ToNanoseconds() / 1e6)
            self._retries = 0
        else:
            self._fanout.partial(
                self._member, utterance_id, result.text, result.language, result.stability
            )
            return
        now = time.perf_counter()
        if result.mid_utterance:  # committed while the speaker goes on: no end yet to time
            ended = spoke_until = now
        else:
            ended = self._ended_at.pop(result.utterance_id, now)
            spoke_until = self._ended_at.pop(result.utterance_id + ".speech", ended)
        self._finals.put_nowait(
            Utterance(
                utterance_id=utterance_id,
                speaker=self._member,
                text=result.text,
                language=result.language,
                start_offset=result.start_offset,
                end_offset=result.end_offset,
                endpointing_s=ended - spoke_until,
                recognition_s=now - ended,
                closes_run=not result.mid_utterance and result.segment_index > 0,
            )
        )

    async def _deliver(self) -> None:
        while (utterance := await self._finals.get()) is not None:
            try:
                await self._fanout.deliver(utterance)
            except Exception:  # one utterance's failure must not end the speaker's stream
                log.exception("delivery failed", utterance=utterance.utterance_id)
