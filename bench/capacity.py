"""Capacity: how many people one server holds while they all keep talking.

Each person is alone in a room with one listener (Spanish captions): they say a sentence of 3-5 s
(English, several voices), wait 1 s, say the next, and so on, streamed in real time; people start
at staggered moments. For N people at once, the final-caption lag is, for each sentence, the
time from the end of its speech to its final caption at the listener (the last piece's, for a
sentence captioned in pieces while it was said; a sentence with no caption within 10 s counts
as 10 s). N grows in coarse steps until the p95 of the lag passes 2 s, then each number
between the last N that kept it under and the first that did not is tried; the capacity is the
largest N that kept it under.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from dataclasses import dataclass, field

import numpy as np

from bench.room import RATE, percentile, utterance_of
from bench.sentences import SENTENCES
from parley_client import Connection
from tests.voices import say, voices

TARGET_P95_S = 2.0
GAP_S = 1.0
CHUNK_S = 0.1
MISSING_S = 10.0
STEPS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32)


@dataclass(frozen=True)
class Clip:
    pcm: bytes
    speech_s: float  # where the voiced part ends


def clips() -> list[Clip]:
    """English sentences of 3-5 s, each by several voices."""
    found = []
    for text in SENTENCES["en"]:
        for voice in voices("en"):
            audio = say(text, voice)
            if 3.0 <= audio.shape[0] / RATE <= 5.0:
                pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
                found.append(Clip(pcm, _speech_end(audio)))
    return found


def _speech_end(samples: np.ndarray) -> float:
    window = RATE // 100
    frames = samples[: samples.size // window * window].reshape(-1, window)
    loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > 0.01)
    return (loud[-1] + 1) * window / RATE if loud.size else 0.0


@dataclass
class Person:
    ends: list[float] = field(default_factory=list)  # wall time each sentence's speech ended
    # Wall time of each utterance's last final caption (an utterance heard in pieces has one
    # per piece), in order.
    captions: dict[str, float] = field(default_factory=dict)


async def _talk(session, person: Person, lines: list[Clip], stop: float, delay: float) -> None:
    await asyncio.sleep(delay)
    step = int(RATE * CHUNK_S) * 2
    for clip in itertools.cycle(lines):
        data = clip.pcm + b"\0\0" * int(RATE * GAP_S)
        t0 = time.perf_counter()
        if t0 + len(data) / 2 / RATE > stop:
            return
        for i in range(0, len(data), step):
            await asyncio.sleep(max(0.0, t0 + i / 2 / RATE - time.perf_counter()))
            session.send_audio(data[i : i + step])
        person.ends.append(t0 + clip.speech_s)


async def _listen(session, person: Person, arrived: asyncio.Event) -> None:
    async for event in session.events():
        if event.WhichOneof("event") == "caption" and event.caption.is_final:
            person.captions[utterance_of(event.caption.utterance_id)] = time.perf_counter()
            arrived.set()


async def lag_for(address: str, people: int, lines: list[Clip], seconds: float) -> list[float]:
    """The final-caption lags of ``people`` people talking for ``seconds``."""
    rng = random.Random(people)
    async with Connection(address) as parley:
        sessions, tasks, everyone = [], [], []
        arrived = asyncio.Event()  # set when any final caption comes
        for i in range(people):
            room = (await parley.rooms.create(open_room=True)).room.room_id
            speaker = parley.rooms.join(room, f"S{i}", "en", "en")
            listener = parley.rooms.join(room, f"L{i}", "es", captions_only=True)
            person = Person()
            everyone.append(person)
            sessions += [speaker, listener]
            tasks.append(asyncio.create_task(_listen(listener, person, arrived)))
        await asyncio.sleep(1.0)
        stop = time.perf_counter() + seconds
        talkers = [
            asyncio.create_task(
                _talk(s, p, rng.sample(lines, len(lines)), stop, rng.uniform(0, 5.0))
            )
            for s, p in zip(sessions[::2], everyone, strict=True)
        ]
        await asyncio.gather(*talkers)
        deadline = time.perf_counter() + MISSING_S
        while (remaining := deadline - time.perf_counter()) > 0:
            arrived.clear()
            done = all(len(p.captions) >= len(p.ends) for p in everyone)
            try:  # the next caption, or a second of quiet once every utterance has one
                await asyncio.wait_for(arrived.wait(), min(1.0, remaining) if done else remaining)
            except TimeoutError:
                if done:
                    break
        for session in sessions:
            session.leave()
        for task in tasks:
            task.cancel()
    lags = []
    for person in everyone:
        last = list(person.captions.values())
        for k, ended in enumerate(person.ends):
            got = last[k] - ended if k < len(last) else MISSING_S
            lags.append(min(got, MISSING_S))
    return lags


async def capacity(address: str, lines: list[Clip], seconds: float = 40.0) -> dict:
    """Grows the number of people in coarse steps until the lag's p95 passes the target, then
    tries each number between the last that held and the first that did not."""
    steps, held = [], 0

    async def holds(people: int) -> bool:
        lags = await lag_for(address, people, lines, seconds)
        p95 = percentile(lags, 95)
        steps.append({"people": people, "utterances": len(lags), "lag_p50_s": percentile(lags, 50),
                      "lag_p95_s": p95})  # fmt: skip
        print(f"    {people:>3} people: {len(lags):>4} sentences, caption lag p50 "
              f"{percentile(lags, 50):.2f} s, p95 {p95:.2f} s", flush=True)  # fmt: skip
        return p95 < TARGET_P95_S

    for people in STEPS:
        if not await holds(people):
            for between in range(held + 1, people):
                if not await holds(between):
                    break
                held = between
            break
        held = people
    steps.sort(key=lambda step: step["people"])
    return {"people": held, "steps": steps}
