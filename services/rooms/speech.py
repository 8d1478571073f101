"""A room's speech: one recognition stream per speaking member, and the room's fan-out.

Owned by its :class:`~services.rooms.room.Room`: every task it starts is one of the room's.
A member who stops (leaves, or changes the language they speak) has what they already said
recognised and delivered, within ``finish_timeout_s``, however the recognition service behaves.
"""

from __future__ import annotations

import asyncio

from parley.logs import get_logger
from parley.v1 import rooms_pb2
from services.rooms.backends import Backends
from services.rooms.decoding import InputDecoder
from services.rooms.fanout import FanOut, notice
from services.rooms.room import Member, Room
from services.rooms.speaker import SpeakerStream

log = get_logger(__name__)


class RoomSpeech:
    """The speaker streams and the fan-out of one room.

    Args:
        room: the room, which owns this and its tasks.
        backends: the engine services.
        fanout: delivers each utterance to the room's members.
        stt_model: the recognition model ("" for the service's default).
        finish_timeout_s: the longest a stopping speaker's last words may take to arrive.
    """

    def __init__(
        self, room: Room, backends: Backends, fanout: FanOut, stt_model: str,
        finish_timeout_s: float,
    ) -> None:  # fmt: skip
        self._room = room
        self._backends = backends
        self.fanout = fanout
        self._model = stt_model
        self._finish_timeout = finish_timeout_s
        self._speakers: dict[str, SpeakerStream] = {}
        self._decoders: dict[str, InputDecoder] = {}  # members who send compressed audio

    def __len__(self) -> int:
        """Members with a recognition stream open."""
        return len(self._speakers)

    def feed(self, member: Member, data: bytes) -> None:
        """The member's next audio, to their recognition stream (opened on first use);
        compressed audio is decoded first (even while muted: its stream goes on)."""
        if member.input_format.compressed:
            data = self._decode(member, data)
            if not data:
                return
        self._speaker(member).feed(data)

    def _decode(self, member: Member, data: bytes) -> bytes:
        decoder = self._decoders.get(member.participant_id)
        if decoder is None:
            loop = asyncio.get_running_loop()

            def more() -> None:  # in the decoder's worker thread
                loop.call_soon_threadsafe(self._drain, member)

            decoder = self._decoders[member.participant_id] = InputDecoder(
                member.input_format, more
            )
        return self._told(member, decoder, decoder.feed, data)

    def _drain(self, member: Member) -> None:
        """Hands on what a member's container worker decoded since (on the event loop)."""
        decoder = self._decoders.get(member.participant_id)
        if decoder is not None and (data := self._told(member, decoder, decoder.take)):
            self._speaker(member).feed(data)

    def _told(self, member: Member, decoder: InputDecoder, step, *args) -> bytes:
        """``step(*args)``; the member told, once, if their audio cannot be decoded."""
        failed = decoder.failure
        decoded = step(*args)
        if decoder.failure is not None and failed is None:
            self._room.send(
                member, notice(rooms_pb2.NOTICE_CODE_RECOGNITION_FAILED, decoder.failure)
            )
        return decoded

    def _speaker(self, member: Member) -> SpeakerStream:
        speaker = self._speakers.get(member.participant_id)
        if speaker is None:
            speaker = self._speakers[member.participant_id] = self._new_speaker(member)
        return speaker

    def _new_speaker(self, member: Member) -> SpeakerStream:
        return SpeakerStream(
            self._room, member, self._backends, self.fanout, self._model, self._room.tasks
        )

    def finish(self, member: Member, leaving: bool = False) -> None:
        """Ends the member's stream once what they said is delivered (in the background); a
        member ``leaving`` also ends their compressed audio's decoding (its last frames are
        heard)."""
        speaker = self._speakers.pop(member.participant_id, None)
        decoder = self._decoders.pop(member.participant_id, None) if leaving else None
        if speaker is not None or decoder is not None:
            self._room.tasks.spawn(self._finish(member, speaker, decoder), "finish speaker")

    async def _finish(
        self, member: Member, speaker: SpeakerStream | None, decoder: InputDecoder | None
    ) -> None:
        if decoder is not None:
            rest = await asyncio.to_thread(decoder.flush)
            if rest:
                speaker = speaker or self._new_speaker(member)
                speaker.feed(rest)
        if speaker is not None:
            await speaker.finish(self._finish_timeout)

    async def finish_all(self, timeout_s: float) -> int:
        """Ends every stream once what was said is delivered, waiting up to ``timeout_s``;
        returns how many could not finish in time (they are cut off)."""
        speakers, self._speakers = list(self._speakers.values()), {}
        for decoder in self._decoders.values():
            decoder.close()
        self._decoders.clear()
        if not speakers:
            return 0
        finishing = {asyncio.ensure_future(s.finish(timeout_s)): s for s in speakers}
        _, late = await asyncio.wait(finishing, timeout=timeout_s)
        for task in late:
            task.cancel()
            finishing[task].cancel()
        return len(late)
