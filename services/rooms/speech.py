"""A room's speech: one recognition stream per speaking member, and the room's fan-out.

Owned by its :class:`~services.rooms.room.Room`: every task it starts is one of the room's.
A member who stops (leaves, or changes the language they speak) has what they already said
recognised and delivered, within ``finish_timeout_s``, however the recognition service behaves.
"""

from __future__ import annotations

import asyncio

from parley.logs import get_logger
from services.rooms.backends import Backends
from services.rooms.fanout import FanOut
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

    def __len__(self) -> int:
        """Members with a recognition stream open."""
        return len(self._speakers)

    def feed(self, member: Member, data: bytes) -> None:
        """The member's next audio, to their recognition stream (opened on first use)."""
        speaker = self._speakers.get(member.participant_id)
        if speaker is None:
            speaker = SpeakerStream(
                self._room, member, self._backends, self.fanout, self._model, self._room.tasks
            )
            self._speakers[member.participant_id] = speaker
        speaker.feed(data)

    def finish(self, member: Member) -> None:
        """Ends the member's stream once what they said is delivered (in the background)."""
        speaker = self._speakers.pop(member.participant_id, None)
        if speaker is not None:
            self._room.tasks.spawn(speaker.finish(self._finish_timeout), "finish speaker")

    async def finish_all(self, timeout_s: float) -> int:
        """Ends every stream once what was said is delivered, waiting up to ``timeout_s``;
        returns how many could not finish in time (they are cut off)."""
        speakers, self._speakers = list(self._speakers.values()), {}
        if not speakers:
            return 0
        finishing = {asyncio.ensure_future(s.finish(timeout_s)): s for s in speakers}
        _, late = await asyncio.wait(finishing, timeout=timeout_s)
        for task in late:
            task.cancel()
            finishing[task].cancel()
        return len(late)
