"""``parley room join``: one participant from the command line.

Streams a recording in real time (or only listens), prints each event as one stamped line
(seconds since the command started), saves every translated utterance heard as a WAV, and
leaves by the options' rules: after N captions of others (``--expect``), after a quiet spell
(``--wait``), after a fixed time (``--wait-seconds``), or on Ctrl-C, with a LeaveRoom either way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from parley.v1 import audio_pb2, rooms_pb2
from parley_client.audio import chunks, write_wav
from parley_client.rooms import RoomSession

RATE = 16_000
CHUNK_MS = 100
COMPRESSED_CHUNK = 4096  # bytes of a compressed file per message
TAIL_SILENCE_S = 1.0  # after the input, so the last sentence's pause is heard
INPUT_QUIET_S = 8.0  # after the input, leave once nothing has come for this long
EXPECT_QUIET_S = 1.5  # after the expected captions, the quiet that says their speech is over
LEAVE_GRACE_S = 2.0  # how long a leaving participant waits for the room to end its stream


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``parley room join``."""
    p.add_argument("room", help="room id")
    p.add_argument("--name", default="Guest", help="your display name")
    p.add_argument("--speak", default="", help="language you speak; empty to detect")
    p.add_argument("--listen", required=True, help="language you want to hear")
    p.add_argument(
        "--input",
        help="sound file to speak, streamed in real time; .ogg, .opus, .webm (Opus) and .flac "
        "files are sent as they are, for the server to decode",
    )
    p.add_argument(
        "--await-people",
        type=int,
        default=0,
        metavar="N",
        help="with --input: start speaking once N other people are in the room",
    )
    p.add_argument("--output", help="folder for a WAV of each utterance you hear")
    p.add_argument(
        "--output-format",
        choices=("wav", "opus"),
        default="wav",
        help="opus: save each utterance as the Ogg Opus the server encodes (a tenth of the bytes)",
    )
    p.add_argument("--create", action="store_true", help="create the room if it does not exist")
    p.add_argument("--interim", action="store_true", help="also print partial captions")
    p.add_argument(
        "--wait",
        type=float,
        default=None,
        help=f"leave once nothing has arrived for this long (s); default {INPUT_QUIET_S:g} after "
        "--input, else stay",
    )
    p.add_argument(
        "--wait-seconds",
        type=float,
        default=None,
        help="leave after this many seconds in the room, whatever happened",
    )
    p.add_argument(
        "--expect", type=int, default=0, help="leave after this many final captions of others"
    )


@dataclass
class Participant:
    """What one ``room join`` has seen so far, and its rule for leaving."""

    room: str
    output: Path | None
    interim: bool
    expect: int
    quiet_limit: float | None
    started: float = field(default_factory=time.monotonic)
    last_event: float = field(default_factory=time.monotonic)
    me: str = ""
    others: set[str] = field(default_factory=set)
    heard: int = 0  # final captions of other people
    saved: list[Path] = field(default_factory=list)
    # Audio of each utterance being received: its file suffix and its chunks so far.
    pending: dict[str, tuple[str, list[bytes]]] = field(default_factory=dict)

    def say(self, line: str) -> None:
        print(f"[{time.monotonic() - self.started:7.2f}s] {line}", flush=True)

    def take(self, event: rooms_pb2.JoinResponse) -> None:
        """Records and prints one event."""
        self.last_event = time.monotonic()
        kind = event.WhichOneof("event")
        body = getattr(event, kind) if kind else None
        if kind == "joined":
            self.me = body.participant_id
            self.others = {p.participant_id for p in body.room.participants} - {self.me}
            names = [p.display_name for p in body.room.participants if p.participant_id != self.me]
            company = f"with {', '.join(names)}" if names else "alone so far"
            self.say(f"joined room {self.room} as {self.me}, {company}")
        elif kind == "participant_joined":
            self.others.add(body.participant.participant_id)
            p = body.participant
            self.say(f"{p.display_name} joined (speaks {p.speak_language or '?'}, "
                     f"hears {p.listen_language})")  # fmt: skip
        elif kind == "participant_left":
            self.others.discard(body.participant.participant_id)
            self.say(f"{body.participant.display_name} left")
        elif kind == "caption":
            self._caption(body)
        elif kind == "audio_begin":
            ogg = body.audio_format.encoding == audio_pb2.AUDIO_ENCODING_OGG_OPUS
            self.pending[body.utterance_id] = (".ogg" if ogg else ".wav", [])
        elif kind == "audio_chunk" and body.utterance_id in self.pending:
            self.pending[body.utterance_id][1].append(body.data)
        elif kind == "audio_end" and body.utterance_id in self.pending:
            suffix, pieces = self.pending.pop(body.utterance_id)
            if self.output is not None and pieces:
                self.save(self.output / f"{body.utterance_id}{suffix}", b"".join(pieces))
        elif kind == "notice":
            self.say(f"notice: {body.message}")
        elif kind == "room_closed":
            self.say(f"room closed: {body.reason}")

    def save(self, path: Path, data: bytes) -> None:
        if path.suffix == ".ogg":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)  # one complete Ogg Opus stream per utterance
        else:
            path = write_wav(path, data, RATE)
        self.saved.append(path)
        self.say(f"saved {path}")

    def _caption(self, c: rooms_pb2.Caption) -> None:
        if not c.is_final:
            if self.interim:
                self.say(f"{c.speaker_name} ({c.original_language}) ...{c.original_text}")
            return
        self.heard += c.speaker_id != self.me
        text = c.text or c.original_text
        t = c.timings
        ready = sum(d.ToMilliseconds() for d in (t.endpointing, t.recognition, t.translation))
        self.say(f"{c.speaker_name} ({c.original_language}>{c.language}): {text}"
                 f"  ({ready / 1000:.2f} s after speech)")  # fmt: skip

    def leave_in(self) -> float | None:
        """Seconds until the quiet rule says leave (0: now); None while there is no such rule."""
        limit = self.quiet_limit
        if self.expect and self.heard >= self.expect:
            limit = EXPECT_QUIET_S if limit is None else min(limit, EXPECT_QUIET_S)
        if limit is None:
            return None
        return max(0.0, limit - (time.monotonic() - self.last_event))


async def run(session: RoomSession, args, speech: np.ndarray | bytes | None) -> int:
    """Joins, speaks ``speech`` (16 kHz samples, or a compressed file's bytes) if any, and
    leaves by the rules of ``args``."""
    me = Participant(
        room=args.room,
        output=Path(args.output) if args.output else None,
        interim=args.interim,
        expect=args.expect,
        quiet_limit=args.wait,
    )
    news = asyncio.Event()  # set at every event

    async def receive() -> None:
        async for event in session.events():
            me.take(event)
            news.set()

    async def speak() -> None:
        while not me.me or len(me.others) < args.await_people:
            news.clear()
            await news.wait()
        if isinstance(speech, bytes):
            # The server reads a compressed stream at the pace of speech; it knows its length.
            me.say(f"speaking {args.input} ({len(speech):,} bytes, sent as it is)")
            for start in range(0, len(speech), COMPRESSED_CHUNK):
                session.send_audio(speech[start : start + COMPRESSED_CHUNK])
        else:
            audio = np.concatenate([speech, np.zeros(int(RATE * TAIL_SILENCE_S), np.float32)])
            me.say(f"speaking {speech.shape[0] / RATE:.2f} s of {args.input}")
            started = time.monotonic()
            for i, data in enumerate(chunks(audio, RATE, CHUNK_MS)):
                await asyncio.sleep(max(0.0, started + i * CHUNK_MS / 1000 - time.monotonic()))
                session.send_audio(data)
        me.last_event = time.monotonic()
        if me.quiet_limit is None:
            me.quiet_limit = INPUT_QUIET_S

    receiver = asyncio.create_task(receive())
    speaker = asyncio.create_task(speak()) if speech is not None else None
    try:
        await asyncio.wait_for(_until_done(me, news, receiver, speaker), args.wait_seconds)
    except TimeoutError:
        me.say(f"{args.wait_seconds:g} s passed (--wait-seconds)")
    finally:
        if speaker is not None:
            speaker.cancel()
        session.leave()
        # Ctrl-C (this task cancelled) or a failure: the LeaveRoom is on its way; wait a
        # moment for the room to end the stream, then end it ourselves.
        if not receiver.done():
            await asyncio.wait({receiver}, timeout=LEAVE_GRACE_S)
        if not receiver.done():
            session.cancel()
            receiver.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await receiver
    return 0


async def _until_done(me: Participant, news, receiver, speaker) -> None:
    while not receiver.done():
        wait = me.leave_in() if speaker is None or speaker.done() else None
        if wait == 0:
            return
        news.clear()
        waiter = asyncio.ensure_future(news.wait())
        watched = {receiver, waiter} | ({speaker} if speaker and not speaker.done() else set())
        await asyncio.wait(watched, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if speaker is not None and speaker.done() and not speaker.cancelled():
            speaker.result()  # a failure while sending is the command's failure
