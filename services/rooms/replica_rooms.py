"""A room shared by replicas, as one replica sees it, and what it does with the others' news.

A :class:`ClusterRoom` holds this replica's members and a mirror of the others'. Its local
speakers' utterances are delivered here and published (:class:`ClusterFanOut`); another
replica's messages are applied by :func:`apply`: participant events update the mirror and reach
the local members, a remote speaker's utterances are delivered here by this replica's own
fan-out, one speaker at a time and in order, on tasks of the room.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from parley.audio import AudioFormat
from parley.logs import get_logger
from parley.v1 import replicas_pb2, rooms_pb2
from services.rooms.backends import Backends
from services.rooms.fanout import FanOut, Utterance
from services.rooms.outbox import Outbox
from services.rooms.registry import RoomRegistry
from services.rooms.room import Member, Room

log = get_logger(__name__)

SHARED_EVENTS = ("participant_joined", "participant_updated")
IDLE_SPEAKER_S = 60.0  # a remote speaker's delivery task ends after this long without speech


@dataclass(eq=False)
class ClusterRoom(Room):
    """A room as one replica sees it: its own members (``members``) and a mirror of the
    others' (``remote``), kept up to date by the room's events."""

    directory: Any = None  # the RedisDirectory that shares its participant events
    remote: dict[str, rooms_pb2.Participant] = field(default_factory=dict)
    proxies: dict[str, Member] = field(default_factory=dict)  # remote speakers' stand-ins
    remote_speakers: dict[str, asyncio.Queue] = field(default_factory=dict)

    def to_proto(self) -> rooms_pb2.Room:
        proto = super().to_proto()
        others = [p for pid, p in self.remote.items() if pid not in self.members]
        everyone = [*(m.to_proto() for m in self.members.values()), *others]
        everyone.sort(key=lambda p: p.join_time.ToNanoseconds())  # in order of joining
        del proto.participants[:]
        proto.participants.extend(everyone)
        languages = set(proto.listen_languages) | {p.listen_language for p in others}
        proto.listen_languages[:] = sorted(languages)
        return proto

    def broadcast(self, event: rooms_pb2.JoinResponse, exclude: Member | None = None) -> None:
        """Queues an event for this replica's members; participant events about them are
        shared with the other replicas."""
        super().broadcast(event, exclude)
        if self.directory is not None and event.WhichOneof("event") in SHARED_EVENTS:
            self.directory.share(self, event)

    def deliver_local(self, event: rooms_pb2.JoinResponse) -> None:
        """Queues an event from another replica for this replica's members."""
        Room.broadcast(self, event)


class ClusterRegistry(RoomRegistry):
    room_type = ClusterRoom


class ClusterFanOut(FanOut):
    """The fan-out of a local speaker: delivers here and publishes for the other replicas."""

    def __init__(self, room: Room, backends: Backends, timeout_s: float, bus) -> None:
        super().__init__(room, backends, timeout_s)
        self._bus = bus

    def partial(self, speaker: Member, utterance_id: str, text: str, language: str, stability):
        super().partial(speaker, utterance_id, text, language, stability)
        self._bus.publish(
            self._room.room_id,
            partial=replicas_pb2.ReplicaPartial(
                speaker=speaker.to_proto(), utterance_id=utterance_id, text=text,
                language=language, stability=stability,
            ),
        )  # fmt: skip

    async def deliver(self, utterance: Utterance) -> None:
        self._bus.publish(self._room.room_id, utterance=to_message(utterance))
        await super().deliver(utterance)


def to_message(u: Utterance) -> replicas_pb2.ReplicaUtterance:
    message = replicas_pb2.ReplicaUtterance(
        speaker=u.speaker.to_proto(), utterance_id=u.utterance_id, text=u.text,
        language=u.language, start_offset=u.start_offset, end_offset=u.end_offset,
    )  # fmt: skip
    message.endpointing.FromNanoseconds(int(u.endpointing_s * 1e9))
    message.recognition.FromNanoseconds(int(u.recognition_s * 1e9))
    return message


def apply(
    room: ClusterRoom, message: replicas_pb2.ReplicaMessage, backends: Backends, timeout_s: float
) -> None:
    """Applies another replica's message to this replica's copy of the room."""
    kind = message.WhichOneof("body")
    if kind == "closed":
        room.close(message.closed.reason)
    elif kind == "participant_event":
        remote_event(room, message.participant_event)
    elif kind == "partial":
        p = message.partial
        speaker = proxy(room, p.speaker)
        FanOut(room, backends, timeout_s).partial(
            speaker, p.utterance_id, p.text, p.language, p.stability
        )
    elif kind == "utterance":
        u = message.utterance
        utterance = Utterance(
            utterance_id=u.utterance_id, speaker=proxy(room, u.speaker), text=u.text,
            language=u.language, start_offset=u.start_offset, end_offset=u.end_offset,
            endpointing_s=u.endpointing.ToNanoseconds() / 1e9,
            recognition_s=u.recognition.ToNanoseconds() / 1e9,
        )  # fmt: skip
        _queue_remote(room, utterance, backends, timeout_s)


def remote_event(room: ClusterRoom, event: rooms_pb2.JoinResponse) -> None:
    """A participant event of another replica: the mirror changes, the local members hear."""
    kind = event.WhichOneof("event")
    participant = getattr(event, kind).participant
    pid = participant.participant_id
    if pid in room.members:
        return
    if kind == "participant_left":
        room.remote.pop(pid, None)
        room.proxies.pop(pid, None)
        queue = room.remote_speakers.get(pid)
        if queue is not None:
            queue.put_nowait(None)  # what they said is still delivered, then the task ends
    else:
        room.remote[pid] = participant
        if pid in room.proxies:
            room.proxies[pid].display_name = participant.display_name
    room.deliver_local(event)


def proxy(room: ClusterRoom, participant: rooms_pb2.Participant) -> Member:
    """A stand-in for a speaker connected to another replica: the fan-out sends it nothing
    (captions-free delivery, closed outbox)."""
    found = room.proxies.get(participant.participant_id)
    if found is None:
        outbox = Outbox(1, 1)
        outbox.close()
        found = Member(
            participant_id=participant.participant_id,
            display_name=participant.display_name,
            speak_language=participant.speak_language,
            listen_language=participant.listen_language,
            input_format=AudioFormat(),
            output_format=AudioFormat(),
            delivery=rooms_pb2.DELIVERY_MODE_AUDIO_ONLY,
            same_language_audio=False,
            interim_captions=False,
            outbox=outbox,
        )
        room.proxies[participant.participant_id] = found
    return found


def _queue_remote(room: ClusterRoom, utterance: Utterance, backends, timeout_s: float) -> None:
    """Queues a remote speaker's utterance: one speaker's utterances reach this replica's
    members in order, delivered by a task of the room."""
    pid = utterance.speaker.participant_id
    queue = room.remote_speakers.get(pid)
    if queue is None:
        queue = room.remote_speakers[pid] = asyncio.Queue()
        room.tasks.spawn(_deliver_remote(room, pid, queue, backends, timeout_s), f"from {pid}")
    queue.put_nowait(utterance)


async def _deliver_remote(room: ClusterRoom, pid: str, queue: asyncio.Queue, backends, timeout_s):
    fanout = FanOut(room, backends, timeout_s)
    while True:
        try:
            utterance = await asyncio.wait_for(queue.get(), IDLE_SPEAKER_S)
        except TimeoutError:
            if queue.empty():
                break
            continue
        if utterance is None or room.closed:
            break
        try:
            await fanout.deliver(utterance)
        except Exception:  # one utterance's failure must not end the speaker's queue
            log.exception("delivery failed", utterance=utterance.utterance_id)
    if room.remote_speakers.get(pid) is queue:
        del room.remote_speakers[pid]
