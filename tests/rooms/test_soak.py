"""The soak's short form (bench/soak.py): two rooms of three people taking turns to speak real
speech for half a minute; every final utterance reaches every other participant of its room,
as a caption and as translated audio where asked for, once and in order, nothing reaches another
room, and the server keeps no state of the rooms once everyone has left."""

from __future__ import annotations

import asyncio
import contextlib

from bench import soak
from parley.server import running
from parley.v1 import rooms_pb2
from services.rooms.config import RoomsConfig
from services.rooms.servicer import RoomServicer
from services.rooms.servicer import service as rooms_service
from tests.rooms.conftest import LOOPBACK


@contextlib.asynccontextmanager
async def serving_rooms(engines_address: str, backends=None, **settings):
    """A RoomService on 127.0.0.1:0 over the engines server (or ``backends``); yields its
    address and its servicer, to inspect what it holds."""
    config = RoomsConfig(
        stt_address=engines_address,
        translate_address=engines_address,
        tts_address=engines_address,
        **settings,
    )
    rooms = rooms_service(config, backends)
    servicer = rooms.drain.__self__
    assert isinstance(servicer, RoomServicer)
    async with running([rooms], LOOPBACK) as server:
        yield server.local_address, servicer


async def leftovers(servicer: RoomServicer, room_ids: set[str], within_s: float = 5.0) -> list:
    """What the servicer's rooms of ``room_ids`` still hold (members, speaker streams, tasks)
    once the work of the last leave has ended (within ``within_s``); empty when nothing."""
    rooms = [r for r in servicer.directory.registry.list() if r.room_id in room_ids]
    try:
        async with asyncio.timeout(within_s):
            for room in rooms:
                await room.tasks.idle()
    except TimeoutError:
        pass
    return [
        *(f"member {m.participant_id} of {r.room_id}" for r in rooms for m in r.members.values()),
        *(
            f"speaker streams of {r.room_id}"
            for r in rooms
            if r.speech is not None and len(r.speech)
        ),
        *(f"{len(r.tasks)} task(s) of {r.room_id}" for r in rooms if len(r.tasks)),
    ]


def _person(room: str, name: str, pid: str, listen: str = "es") -> soak.Person:
    return soak.Person(room, name, listen, True, session=None, id=pid)


def test_the_tally_sees_loss_disorder_duplicates_and_other_rooms():
    """The check itself can fail: a missing caption and audio, utterances out of order, a
    duplicate and another room's speaker are all counted."""
    ana, bo = _person("a", "ana", "A"), _person("a", "bo", "B")
    ana.own = ["A.1", "A.2", "A.3"]
    ana.own_language = dict.fromkeys(ana.own, "en")
    ana.spoken = 3
    bo.captions = {"A": ["A.2", "A.1", "A.1"], "Z": ["Z.1"]}  # A.3 lost, swapped, duplicated
    bo.audio = {"A": ["A.1", "A.2"]}
    bo.chunks.update({"A.1": 3, "A.2": 0})  # A.2's audio ended with no chunk: lost
    bo.mentioned = {"A", "B", "Z"}
    t = soak.tally({"a": [ana, bo]})
    assert t.utterances == 3 and t.captions_due == 3 and t.captions_lost == 1
    assert t.audio_due == 3 and t.audio_lost == 2
    assert t.order_violations == 2 and t.duplicates == 1
    assert t.foreign == 1  # Z, a speaker of another room
    clean = _person("a", "bo", "B")
    clean.captions = {"A": ["A.1", "A.2", "A.3"]}
    clean.audio = {"A": ["A.1", "A.2", "A.3"]}
    clean.chunks.update(dict.fromkeys(ana.own, 2))
    clean.mentioned = {"A", "B"}
    t = soak.tally({"a": [ana, clean]})
    assert (t.lost, t.order_violations, t.duplicates, t.foreign) == (0, 0, 0, 0)


async def test_short_soak_loses_nothing(engines):
    plan = soak.Plan(rooms=2, participants=3, duration_s=25, gap_s=0.5, drain_s=30)
    lines = await soak.make_lines(engines, soak.SENTENCES[:4], ("pico:en-US", "pico:en-GB"))
    async with serving_rooms(engines, stt_model="whisper-tiny.en") as (address, servicer):
        result = await soak.soak(address, engines, plan, room_prefix="ci-soak", lines=lines)
        t = result.tally
        assert t.utterances >= 4, f"only {t.utterances} utterances recognised"
        assert t.unrecognized == 0, t.problems
        assert t.captions_due >= 8 and t.audio_due >= 4
        assert t.lost == 0, t.problems
        assert t.order_violations == 0 and t.duplicates == 0, t.problems
        assert t.foreign == 0, t.problems
        assert t.stream_errors == 0 and result.rooms_left_with_members == 0, t.problems
        failures = {k: v for k, v in t.notices.items() if k != "NOTICE_CODE_UNSPECIFIED"}
        assert not failures, failures
        assert await leftovers(servicer, {"ci-soak-0", "ci-soak-1"}) == []
        room = servicer.directory.registry.get("ci-soak-0").to_proto()
        assert isinstance(room, rooms_pb2.Room) and not room.participants
