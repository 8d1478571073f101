"""How fast translated speech is spoken: keeping pace with a speaker who runs on, and finishing
soon after one who stops."""

from __future__ import annotations

from google.protobuf.duration_pb2 import Duration

from services.rooms.fanout import FanOut, Utterance
from services.rooms.room import Room


def piece(text: str, said_s: float, closes_run: bool = False) -> Utterance:
    start, end = Duration(), Duration()
    end.FromNanoseconds(int(said_s * 1e9))
    speaker = None  # pacing depends on the words and their timing, not on who said them
    return Utterance("u", speaker, text, "en", start, end, 0.0, 0.0, closes_run=closes_run)  # type: ignore[arg-type]


def fanout() -> FanOut:
    room = Room("r", "r", 4, 60.0, 15_000, True, "", catch_up_after_s=1.5, catch_up_rate=1.75)
    room.speech_per_char["es"] = 0.05  # 40 characters: 2 s of speech
    return FanOut(room, backends=None, timeout_s=1.0)  # type: ignore[arg-type]


def test_a_piece_said_while_the_speaker_goes_on_keeps_pace_at_normal_speed():
    text = "x" * 40
    assert fanout()._rate("es", piece(text, said_s=2.0), text) == 1.0


def test_the_last_piece_of_a_run_on_utterance_is_spoken_to_leave_at_most_the_bound():
    text = "x" * 40
    # 2 s of speech with nothing queued and 1.5 s allowed: 2 / 1.5 times as fast.
    rate = fanout()._rate("es", piece(text, said_s=2.0, closes_run=True), text)
    assert abs(rate - 2.0 / 1.5) < 0.01
    # Never faster than the cap.
    long = "x" * 200
    assert fanout()._rate("es", piece(long, said_s=9.0, closes_run=True), long) == 1.75
