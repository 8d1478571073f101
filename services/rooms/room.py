"""A room and its members: the one owner of everything a room does.

A :class:`Room` holds its members and their outboxes, its speech (the speaker streams and the
fan-out, see ``services.rooms.speech``) and every task they start. Each way of going has one
path: a member leaves by :meth:`Room.leave` (whether they left, were disconnected, stalled or
the room closed), the room ends by :meth:`Room.close`. Every event reaches a member through
:meth:`Room.send`, the one place a stalled listener is handled. Where the room lives (this
process, or Redis shared by replicas) hears of departures and of the end through
:class:`RoomEvents`. No network code here.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from parley.audio import AudioFormat
from parley.errors import InvalidInput, quoted
from parley.logs import get_logger
from parley.v1 import rooms_pb2
from services.rooms.outbox import Outbox, SerializedChunk, Stalled
from services.rooms.tasks import TaskOwner
from services.translate.keep import MAX_TERMS

if TYPE_CHECKING:
    from services.rooms.speech import RoomSpeech

log = get_logger(__name__)

LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
LEFT = rooms_pb2.LEAVE_REASON_LEFT
DISCONNECTED = rooms_pb2.LEAVE_REASON_DISCONNECTED
CLOSED = rooms_pb2.LEAVE_REASON_ROOM_CLOSED


def check_language(code: str, what: str) -> str:
    """Returns ``code`` if it looks like an ISO 639 code, else raises InvalidInput."""
    if not LANGUAGE.match(code):
        raise InvalidInput(f"{what} {quoted(code)} is not a language code such as 'en' or 'pt-BR'")
    return code


@dataclass(eq=False)
class Member:
    """A participant, as the room sees it."""

    participant_id: str
    display_name: str
    speak_language: str
    listen_language: str
    input_format: AudioFormat
    output_format: AudioFormat
    delivery: int
    same_language_audio: bool
    interim_captions: bool
    outbox: Outbox
    join_time: float = field(default_factory=time.time)
    muted: bool = False
    speaking: bool = False

    @property
    def wants_audio(self) -> bool:
        return self.delivery != rooms_pb2.DELIVERY_MODE_CAPTIONS_ONLY

    @property
    def wants_captions(self) -> bool:
        return self.delivery != rooms_pb2.DELIVERY_MODE_AUDIO_ONLY

    def to_proto(self) -> rooms_pb2.Participant:
        joined = Timestamp()
        joined.FromNanoseconds(int(self.join_time * 1e9))
        return rooms_pb2.Participant(
            participant_id=self.participant_id,
            display_name=self.display_name,
            speak_language=self.speak_language,
            listen_language=self.listen_language,
            speaking=self.speaking,
            muted=self.muted,
            delivery=self.delivery or rooms_pb2.DELIVERY_MODE_AUDIO_AND_CAPTIONS,
            join_time=joined,
        )


class RoomEvents(Protocol):
    """What the place a room lives in hears of it."""

    def left(self, room: Room, member: Member, reason: int) -> None:
        """``member`` is no longer in ``room``."""

    def closed(self, room: Room) -> None:
        """``room`` has closed; every member has left it."""


@dataclass(eq=False)
class Room:
    """A room: its settings, its members in order of joining, its speech and its tasks."""

    room_id: str
    name: str
    max_participants: int
    empty_timeout_s: float
    max_utterance_ms: int
    open: bool
    join_token: str
    create_time: float = field(default_factory=time.time)
    members: dict[str, Member] = field(default_factory=dict)
    closed: bool = False
    events: RoomEvents | None = None
    speech: RoomSpeech | None = None
    glossary: tuple[str, ...] = ()  # terms every translation keeps (CreateRoom.glossary)
    catch_up_after_s: float = 0.0  # see FanOut: 0 never speeds speech up
    catch_up_rate: float = 1.0
    # Until when (monotonic seconds) each listen language has translated speech queued.
    audio_queued: dict[str, float] = field(default_factory=dict)
    speech_per_char: dict[str, float] = field(default_factory=dict)  # see FanOut._learn
    tasks: TaskOwner = field(init=False)
    ended: asyncio.Event = field(init=False)  # set once the room has closed

    def __post_init__(self) -> None:
        self.tasks = TaskOwner(f"room {self.room_id}")
        self.ended = asyncio.Event()

    def to_proto(self) -> rooms_pb2.Room:
        created = Timestamp()
        created.FromNanoseconds(int(self.create_time * 1e9))
        timeout = Duration()
        timeout.FromNanoseconds(int(self.empty_timeout_s * 1e9))
        return rooms_pb2.Room(
            room_id=self.room_id,
            name=self.name,
            limits=rooms_pb2.RoomLimits(
                max_participants=self.max_participants,
                empty_timeout=timeout,
                max_utterance_ms=self.max_utterance_ms,
            ),
            participants=[m.to_proto() for m in self.members.values()],
            create_time=created,
            open=self.open,
            listen_languages=sorted({m.listen_language for m in self.members.values()}),
            glossary=self.glossary,
        )

    def kept_terms(self) -> list[str]:
        """What translations leave as it is: the glossary and everyone's display name, as many
        as a translation request takes (a full glossary leaves no room for names)."""
        names = (m.display_name for m in self.members.values() if m.display_name != "Guest")
        return list(dict.fromkeys((*self.glossary, *names)))[:MAX_TERMS]

    # -- events to members --------------------------------------------------------------------

    def send(self, member: Member, event: rooms_pb2.JoinResponse | SerializedChunk) -> None:
        """Queues an event for one member; a member who stopped reading is disconnected."""
        try:
            member.outbox.put(event)
        except Stalled:
            log.warning("listener stalled", room=self.room_id, participant=member.participant_id)
            self.leave(member, DISCONNECTED)

    def broadcast(self, event: rooms_pb2.JoinResponse, exclude: Member | None = None) -> None:
        """Queues one event for every member but ``exclude`` (outboxes never change it)."""
        for member in list(self.members.values()):
            if member is not exclude:
                self.send(member, event)

    def others(self, member: Member) -> Iterable[Member]:
        return (m for m in list(self.members.values()) if m is not member)

    # -- members coming and going ---------------------------------------------------------------

    def welcome(self, member: Member) -> None:
        """Tells a member just admitted that they are in, and everyone else."""
        self.send(
            member,
            rooms_pb2.JoinResponse(
                joined=rooms_pb2.Joined(participant_id=member.participant_id, room=self.to_proto())
            ),
        )
        self.broadcast(
            rooms_pb2.JoinResponse(
                participant_joined=rooms_pb2.ParticipantJoined(participant=member.to_proto())
            ),
            exclude=member,
        )
        log.info("participant joined", room=self.room_id, participant=member.participant_id)

    def leave(self, member: Member, reason: int, announce: bool = True) -> bool:
        """The one way out of the room, whatever the reason; False if ``member`` had gone.

        What the member already said is still recognised and delivered (by the room's tasks).
        """
        if self.members.get(member.participant_id) is not member:
            return False
        del self.members[member.participant_id]
        member.outbox.close()
        if self.speech is not None:
            self.speech.finish(member, leaving=True)
        if self.events is not None:
            self.events.left(self, member, reason)
        log.info("participant left", room=self.room_id, participant=member.participant_id)
        if announce:
            self.broadcast(
                rooms_pb2.JoinResponse(
                    participant_left=rooms_pb2.ParticipantLeft(
                        participant=member.to_proto(), reason=reason
                    )
                )
            )
        return True

    def update(self, member: Member, update: rooms_pb2.UpdateSettings) -> None:
        """Changes a member's settings and tells everyone.

        Raises:
            InvalidInput: for a language that is not a language code (nothing changes).
        """
        if update.HasField("listen_language"):
            check_language(update.listen_language, "listen_language")
        if update.HasField("speak_language") and update.speak_language:
            check_language(update.speak_language, "speak_language")
        if update.HasField("listen_language"):
            member.listen_language = update.listen_language
        if update.HasField("speak_language"):
            member.speak_language = update.speak_language
            if self.speech is not None:  # the next utterance opens a stream with the language
                self.speech.finish(member)
        if update.HasField("muted"):
            member.muted = update.muted
        if update.HasField("delivery"):
            member.delivery = update.delivery
        if update.HasField("display_name"):
            member.display_name = update.display_name.strip()[:64] or member.display_name
        self.broadcast(
            rooms_pb2.JoinResponse(
                participant_updated=rooms_pb2.ParticipantUpdated(participant=member.to_proto())
            )
        )

    # -- the end --------------------------------------------------------------------------------

    def close(self, reason: str) -> int:
        """Tells every member the room closed, ends their streams and everything the room runs.

        Returns:
            How many members were here.
        """
        if self.closed:
            return 0
        self.closed = True
        members = list(self.members.values())
        closed = rooms_pb2.JoinResponse(room_closed=rooms_pb2.RoomClosed(reason=reason))
        for member in members:
            self.send(member, closed)  # a stalled member is disconnected; the others are told
            self.leave(member, CLOSED, announce=False)
        self.tasks.cancel_soon()
        if self.events is not None:
            self.events.closed(self)
        self.ended.set()
        log.info("room closed", room=self.room_id, reason=reason)
        return len(members)
