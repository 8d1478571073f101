"""Soak: nothing lost. Rooms of people taking turns to speak for minutes through a real
`parley serve`; every final utterance is counted and checked at every other listener.

``python -m bench.soak`` (defaults: 10 rooms x 4 participants for 10 minutes, Whisper tiny.en)
starts `parley serve` on loopback; each room holds a conversation in which the participants
speak English in turns (speech made by the server's own voices, streamed in real time, one
room's turn staggered against the others'), and listen in Spanish, French, Italian and English,
some with audio and some captions only. Checked at the end:

- every final utterance a speaker's own caption confirms reached every other participant of
  the room as a final caption, and as translated audio when they asked for audio (no chunk
  dropped), exactly once and in the speaker's order;
- no participant received anything about another room (participant, speaker or utterance ids);
- every stream ended cleanly when its client left, and the rooms are empty afterwards;
- resident memory of the server is flat: sampled from /proc/<pid>/status, the mean of the last
  third of the run after warm-up is within the stated threshold of the mean of the first third.

It prints the figures, the utterance rate achieved and PASS/FAIL lines. The CI test
tests/rooms/test_soak.py runs the same code for under a minute on two small rooms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np

from bench.room import RATE, Line, Server, _speech_end, percentile, speak
from parley.v1 import rooms_pb2
from parley_client import Connection, RoomSession

# Each line is spoken by several voices, so that speakers sound different.
SENTENCES = [
    "Good morning, how are you today?",
    "Please send me the report before Friday.",
    "The weather is lovely, so we will walk to the park after lunch.",
    "I think we should start the project next week.",
    "Thank you very much for your help yesterday.",
    "Can we move the meeting to three o'clock?",
    "The train was late again this morning.",
    "Let us review the plan together on Monday.",
]
VOICES = ("piper:en_US-joe-medium", "pico:en-US", "pico:en-GB")
# Participant i of a room listens in LISTEN[i % 4]; the English listener gets captions only (its
# language is the speaker's), and in odd rooms the French listener asks for captions only.
LISTEN = ("es", "fr", "it", "en")
RSS_THRESHOLD = 0.05  # the last third may be at most 5% above the first third
TARGETS = {"lost": 0, "order": 0, "foreign": 0, "unrecognized_share": 0.02}


@dataclass
class Plan:
    """One soak run."""

    rooms: int = 10
    participants: int = 4
    duration_s: float = 600.0
    gap_s: float = 2.0  # silence between one turn's caption and the next speaker
    pause_s: float = 0.9  # silence the speaker streams after the words (endpointing)
    warmup_s: float = 60.0  # RSS samples before this are not compared
    drain_s: float = 60.0  # time allowed after the last turn for deliveries to arrive
    turn_timeout_s: float = 20.0  # longest wait for the speaker's own caption


@dataclass
class Person:
    """One participant: what they said and everything they received, by speaker."""

    room: str
    name: str
    listen: str
    wants_audio: bool
    session: RoomSession
    id: str = ""
    spoken: int = 0  # turns taken
    unrecognized: int = 0  # turns whose own caption never came
    speech_ends: list[float] = field(default_factory=list)  # end of speech of each turn
    own: list[str] = field(default_factory=list)  # own final utterance ids, in order
    own_language: dict[str, str] = field(default_factory=dict)
    ended_at: dict[str, float] = field(default_factory=dict)  # own utterance -> end of speech
    captions: dict[str, list[str]] = field(default_factory=dict)  # speaker -> utterance ids
    caption_at: dict[str, float] = field(default_factory=dict)
    audio: dict[str, list[str]] = field(default_factory=dict)  # speaker -> utterance ids (ends)
    audio_speaker: dict[str, str] = field(default_factory=dict)  # utterance -> speaker (begin)
    chunks: Counter = field(default_factory=Counter)
    dropped: int = 0
    notices: Counter = field(default_factory=Counter)
    mentioned: set[str] = field(default_factory=set)  # participant ids in any event
    rooms_seen: set[str] = field(default_factory=set)
    error: str = ""
    task: asyncio.Task | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, event: rooms_pb2.JoinResponse) -> None:
        now = time.perf_counter()
        kind = event.WhichOneof("event")
        if kind == "joined":
            self.id = event.joined.participant_id
            self.rooms_seen.add(event.joined.room.room_id)
            self.mentioned.update(p.participant_id for p in event.joined.room.participants)
        elif kind in ("participant_joined", "participant_left", "participant_updated"):
            self.mentioned.add(getattr(event, kind).participant.participant_id)
        elif kind == "caption" and event.caption.is_final:
            c = event.caption
            self.mentioned.add(c.speaker_id)
            if c.speaker_id == self.id:
                self.own.append(c.utterance_id)
                self.own_language[c.utterance_id] = c.original_language
                if self.speech_ends:
                    self.ended_at[c.utterance_id] = self.speech_ends[-1]
            else:
                self.captions.setdefault(c.speaker_id, []).append(c.utterance_id)
                self.caption_at[c.utterance_id] = now
        elif kind == "audio_begin":
            self.audio_speaker[event.audio_begin.utterance_id] = event.audio_begin.speaker_id
            self.mentioned.add(event.audio_begin.speaker_id)
        elif kind == "audio_chunk":
            self.chunks[event.audio_chunk.utterance_id] += 1
        elif kind == "audio_end":
            end = event.audio_end
            speaker = self.audio_speaker.get(end.utterance_id, "?")
            self.audio.setdefault(speaker, []).append(end.utterance_id)
            self.dropped += end.dropped_chunks
        elif kind == "notice":
            self.notices[rooms_pb2.NoticeCode.Name(event.notice.code)] += 1
        elif kind == "room_closed":
            self.notices["ROOM_CLOSED"] += 1
        self.changed.set()

    async def read(self) -> None:
        try:
            async for event in self.session.events():
                self.record(event)
        except grpc.aio.AioRpcError as exc:
            self.error = f"{exc.code().name}: {exc.details()}"
        self.changed.set()

    async def wait(self, predicate, within_s: float) -> bool:
        deadline = time.perf_counter() + within_s
        while not predicate():
            remaining = deadline - time.perf_counter()
            if remaining <= 0 or (self.task is not None and self.task.done()):
                return predicate()
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except TimeoutError:
                pass
        return True


def expects_audio(listener: Person, language: str) -> bool:
    """Whether a listener is owed translated speech of an utterance in ``language``."""
    return listener.wants_audio and listener.listen != language


@dataclass
class Tally:
    """What was said and what arrived, over every room."""

    spoken: int = 0
    utterances: int = 0  # final utterances recognised (speakers' own captions)
    unrecognized: int = 0  # turns with no final caption
    captions_due: int = 0
    captions_lost: int = 0
    audio_due: int = 0
    audio_lost: int = 0
    chunks: int = 0
    dropped_chunks: int = 0
    duplicates: int = 0
    order_violations: int = 0
    foreign: int = 0  # events about a participant or utterance of another room
    stream_errors: int = 0
    notices: Counter = field(default_factory=Counter)
    lags: list[float] = field(default_factory=list)  # end of speech -> listener's caption
    problems: list[str] = field(default_factory=list)  # the first few, for the report

    @property
    def lost(self) -> int:
        return self.captions_lost + self.audio_lost + self.dropped_chunks

    def note(self, problem: str) -> None:
        if len(self.problems) < 10:
            self.problems.append(problem)


def _in_order(expected: list[str], got: list[str]) -> int:
    """Order violations: received utterances (of those expected) not in the speaker's order."""
    position = {u: i for i, u in enumerate(expected)}
    seen = [position[u] for u in got if u in position]
    return sum(1 for a, b in zip(seen, seen[1:], strict=False) if b <= a)


def tally(rooms: dict[str, list[Person]]) -> Tally:
    """Checks every delivery of every room."""
    t = Tally()
    for room, people in rooms.items():
        ids = {p.id for p in people}
        for speaker in people:
            t.spoken += speaker.spoken
            t.unrecognized += speaker.unrecognized
            t.utterances += len(speaker.own)
            for listener in people:
                if listener is speaker:
                    continue
                got = listener.captions.get(speaker.id, [])
                got_set = set(got)
                missing = [u for u in speaker.own if u not in got_set]
                t.captions_due += len(speaker.own)
                t.captions_lost += len(missing)
                t.duplicates += len(got) - len(set(got))
                if missing:
                    t.note(f"{room}: {listener.name} has no caption of {missing[:3]}")
                # A caption of an utterance the speaker never confirmed is a stray.
                stray = got_set - set(speaker.own)
                t.foreign += len(stray)
                t.order_violations += _in_order(speaker.own, got)
                for u in speaker.own:
                    if u in listener.caption_at and u in speaker.ended_at:
                        t.lags.append(listener.caption_at[u] - speaker.ended_at[u])
                due = [u for u in speaker.own if expects_audio(listener, speaker.own_language[u])]
                heard = listener.audio.get(speaker.id, [])
                heard_set = set(heard)
                silent = [u for u in due if u not in heard_set or not listener.chunks[u]]
                t.audio_due += len(due)
                t.audio_lost += len(silent)
                t.duplicates += len(heard) - len(set(heard))
                t.order_violations += _in_order(due, heard)
                if silent:
                    t.note(f"{room}: {listener.name} has no audio of {silent[:3]}")
        for person in people:
            t.chunks += sum(person.chunks.values())
            t.dropped_chunks += person.dropped
            t.notices.update(person.notices)
            others = person.mentioned - ids
            others |= {s for s in person.audio_speaker.values() if s not in ids}
            others |= {s for s in person.captions if s not in ids}
            t.foreign += len(others) + len(person.rooms_seen - {room})
            if others:
                t.note(f"{room}: {person.name} heard of participants of other rooms {others}")
            if person.error:
                t.stream_errors += 1
                t.note(f"{room}: {person.name}'s stream ended with {person.error}")
    return t


async def make_lines(tts_address: str, sentences=SENTENCES, voices=VOICES) -> list[Line]:
    """Each sentence spoken by each voice, as 16 kHz 16-bit PCM."""
    lines = []
    async with Connection(tts_address) as parley:
        for voice in voices:
            for text in sentences:
                speech = await parley.tts.synthesize(text, voice=voice, rate=RATE)
                pcm = (np.clip(speech.samples, -1, 1) * 32767).astype("<i2").tobytes()
                lines.append(Line("en", text, pcm, _speech_end(speech.samples)))
    return lines


def _silence(seconds: float) -> Line:
    return Line("en", "", b"\0\0" * int(RATE * seconds), 0.0)


async def join_room(parley: Connection, room: str, index: int, count: int) -> list[Person]:
    """Creates an open room and joins ``count`` participants; returns once all are in."""
    await parley.rooms.create(room, open_room=True)
    people = []
    for i in range(count):
        listen = LISTEN[i % len(LISTEN)]
        captions_only = listen == "fr" and index % 2 == 1
        session = parley.rooms.join(
            room, f"{room}-p{i}", listen, speak="en", captions_only=captions_only
        )
        person = Person(room, f"p{i}", listen, not captions_only, session)
        person.task = asyncio.create_task(person.read())
        people.append(person)
    for person in people:
        await person.wait(lambda p=person: bool(p.id), 30)
        if not person.id:
            raise RuntimeError(f"{person.name} of {room} could not join: {person.error}")
    return people


async def converse(
    people: list[Person], lines: list[Line], plan: Plan, until: float, offset: int
) -> None:
    """Participants speak in turns until ``until``: a turn streams a line and its pause in real
    time, waits for the speaker's own final caption, then leaves a gap."""
    turn = 0
    while time.perf_counter() < until:
        speaker = people[turn % len(people)]
        line = lines[(offset + turn * 5) % len(lines)]
        before = len(speaker.own)
        speaker.speech_ends.append(await speak(speaker.session, line, pause_s=0.0))
        await speak(speaker.session, _silence(plan.pause_s), pause_s=0.0)
        speaker.spoken += 1
        if not await speaker.wait(lambda s=speaker, n=before: len(s.own) > n, plan.turn_timeout_s):
            speaker.unrecognized += 1
        await asyncio.sleep(plan.gap_s)
        turn += 1


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` (VmRSS), in MB."""
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1]) / 1024
    return 0.0


async def sample_rss(pid: int, every_s: float, samples: list[tuple[float, float]]) -> None:
    """Appends (seconds since start, VmRSS MB) of process ``pid`` every ``every_s``."""
    t0 = time.perf_counter()
    while True:
        samples.append((time.perf_counter() - t0, rss_mb(pid)))
        await asyncio.sleep(every_s)


def rss_trend(samples: list[tuple[float, float]], warmup_s: float) -> dict | None:
    """Means of the first and last thirds of the samples after warm-up, and the growth."""
    kept = [mb for t, mb in samples if t >= warmup_s]
    if len(kept) < 6:
        return None
    third = len(kept) // 3
    first, last = statistics.fmean(kept[:third]), statistics.fmean(kept[-third:])
    return {
        "start_mb": samples[0][1],
        "first_third_mb": first,
        "last_third_mb": last,
        "growth": last / first - 1,
        "max_mb": max(mb for _, mb in samples),
    }


@dataclass
class Result:
    plan: Plan
    tally: Tally
    seconds: float  # of conversation
    rooms_left_with_members: int
    rss: dict | None = None
    cpu_cores: float | None = None


async def soak(
    rooms_address: str,
    tts_address: str,
    plan: Plan,
    room_prefix: str = "soak",
    server: Server | None = None,
    lines: list[Line] | None = None,
) -> Result:
    """Runs the conversations of ``plan`` against the RoomService at ``rooms_address`` (speech
    made by the TextToSpeechService at ``tts_address``); ``server`` is sampled for memory."""
    lines = lines or await make_lines(tts_address)
    rss: list[tuple[float, float]] = []
    sampler = asyncio.create_task(sample_rss(server.process.pid, 5.0, rss)) if server else None
    connections = [Connection(rooms_address) for _ in range(plan.rooms)]
    rooms: dict[str, list[Person]] = {}
    try:
        for r, parley in enumerate(connections):
            room = f"{room_prefix}-{r}"
            rooms[room] = await join_room(parley, room, r, plan.participants)
        cpu0 = server.cpu_seconds() if server else 0.0
        started = time.perf_counter()
        until = started + plan.duration_s
        stagger = (plan.gap_s + 3.0) / max(1, plan.rooms)

        async def room_talk(r: int, people: list[Person]) -> None:
            await asyncio.sleep(r * stagger)
            await converse(people, lines, plan, until, offset=r)

        await asyncio.gather(*(room_talk(r, p) for r, p in enumerate(rooms.values())))
        seconds = time.perf_counter() - started
        everyone = [p for people in rooms.values() for p in people]
        # Let what is on its way arrive: stop as soon as nothing is missing.
        for _ in range(int(plan.drain_s * 2)):
            if not tally(rooms).lost:
                break
            await asyncio.sleep(0.5)
        cpu = (server.cpu_seconds() - cpu0) / (time.perf_counter() - started) if server else None
        for person in everyone:
            person.session.leave()
        for person in everyone:
            try:
                await asyncio.wait_for(asyncio.shield(person.task), 15)
            except TimeoutError:
                person.error = person.error or "stream did not end after leaving"
        result_tally = tally(rooms)
        await asyncio.sleep(0.5)
        occupied = 0
        for r, parley in enumerate(connections):
            if (await parley.rooms.get(f"{room_prefix}-{r}")).participants:
                occupied += 1
    finally:
        if sampler:
            sampler.cancel()
        for people in rooms.values():
            for person in people:
                if person.task and not person.task.done():
                    person.session.cancel()
        for parley in connections:
            await parley.close()
    return Result(
        plan,
        result_tally,
        seconds,
        occupied,
        rss_trend(rss, plan.warmup_s) if server else None,
        cpu,
    )


def verdicts(result: Result) -> list[tuple[str, float, str, bool]]:
    t = result.tally
    share = t.unrecognized / t.spoken if t.spoken else 1.0
    rows = [
        ("utterances lost (captions + audio + chunks)", t.lost, "0", t.lost == 0),
        (
            "order violations and duplicates",
            t.order_violations + t.duplicates,
            "0",
            t.order_violations + t.duplicates == 0,
        ),  # fmt: skip
        ("events about another room", t.foreign, "0", t.foreign == 0),
        (
            "streams not ended cleanly, rooms not empty",
            t.stream_errors + result.rooms_left_with_members,
            "0",
            t.stream_errors + result.rooms_left_with_members == 0,
        ),  # fmt: skip
        (
            "turns with no final caption (share)",
            share,
            f"<= {TARGETS['unrecognized_share']}",
            share <= TARGETS["unrecognized_share"],
        ),  # fmt: skip
    ]
    if result.rss is not None:
        growth = result.rss["growth"]
        rows.append(
            (
                "RSS growth, last third vs first third",
                growth,
                f"<= {RSS_THRESHOLD}",
                growth <= RSS_THRESHOLD,
            )  # fmt: skip
        )
    return rows


def print_report(result: Result) -> None:
    plan, t = result.plan, result.tally
    lags = t.lags
    print(
        f"{plan.rooms} rooms x {plan.participants} participants, "
        f"{result.seconds / 60:.1f} min of conversation"
    )
    print(f"\n{'measure':<44}{'value':>12}")
    rows = [
        ("turns spoken", t.spoken),
        ("final utterances recognised", t.utterances),
        ("utterance rate (per s, all rooms)", f"{t.utterances / result.seconds:.2f}"),
        ("captions due / lost", f"{t.captions_due} / {t.captions_lost}"),
        ("translated audio due / lost", f"{t.audio_due} / {t.audio_lost}"),
        ("audio chunks received / dropped", f"{t.chunks} / {t.dropped_chunks}"),
        ("order violations / duplicates", f"{t.order_violations} / {t.duplicates}"),
        (
            "caption lag p50 / p95 / max (s)",
            f"{percentile(lags, 50):.2f} / {percentile(lags, 95):.2f} / "
            f"{max(lags, default=float('nan')):.2f}",
        ),  # fmt: skip
    ]
    if result.cpu_cores is not None:
        rows.append(("server CPU (cores busy, of 2)", f"{result.cpu_cores:.2f}"))
    if result.rss is not None:
        r = result.rss
        rows += [
            ("RSS at start / max (MB)", f"{r['start_mb']:.0f} / {r['max_mb']:.0f}"),
            (
                "RSS first / last third after warm-up (MB)",
                f"{r['first_third_mb']:.0f} / {r['last_third_mb']:.0f}",
            ),  # fmt: skip
        ]
    for name, value in rows:
        print(f"{name:<44}{value!s:>12}")
    if t.notices:
        print("notices:", dict(t.notices))
    for problem in t.problems:
        print("  problem:", problem)
    print()
    for name, value, target, ok in verdicts(result):
        print(f"{name:<48}{value:>9.3f}  target {target:<8} {'PASS' if ok else 'FAIL'}")


async def run(args) -> Result:
    plan = Plan(
        rooms=args.rooms,
        participants=args.participants,
        duration_s=args.minutes * 60,
        gap_s=args.gap_s,
        warmup_s=min(60.0, args.minutes * 60 / 5),
    )
    server = Server(args.model, {"PARLEY_ROOMS_MAX_PARTICIPANTS": "50"})
    try:
        await server.ready()
        return await soak(server.address, server.address, plan, server=server)
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--participants", type=int, default=4, help="per room")
    parser.add_argument("--minutes", type=float, default=10.0, help="of conversation")
    parser.add_argument(
        "--gap-s", type=float, default=Plan.gap_s, help="silence between turns in a room"
    )
    parser.add_argument(
        "--model", default="whisper-tiny.en", help="recognition model (speakers speak English)"
    )
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print_report(result)
    return 0 if all(ok for *_, ok in verdicts(result)) else 1


if __name__ == "__main__":
    sys.exit(main())
