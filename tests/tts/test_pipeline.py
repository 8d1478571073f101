"""The synthesis pipeline's orchestration: lazy, sentence by sentence, bounded, stoppable.

A counting engine stands in here because these tests are about how the pipeline drives an
engine (how many sentences it asks for, whether it closes them), not about speech.
"""

from __future__ import annotations

import threading

import numpy as np

from parley import audio
from services.tts.engines.base import Engine, Quality, SynthesisOptions, Voice
from services.tts.synthesis import Job

RATE = 16_000


class Counting(Engine):
    """Yields one 0.5 s tone in five chunks per sentence and records what it was asked."""

    name = "counting"

    def __init__(self) -> None:
        self.sentences: list[str] = []
        self.closed = 0
        self.finished = 0

    def voices(self) -> list[Voice]:
        return [VOICE]

    def synthesize(self, text, voice, options):
        self.sentences.append(text)
        try:
            for _ in range(5):
                yield np.full(RATE // 10, 0.25, np.float32)
            self.finished += 1
        except GeneratorExit:
            self.closed += 1
            raise


VOICE = Voice("counting", "tone", ("en",), RATE, quality=Quality.STANDARD)
LONG = "Another sentence. " * 1_100  # about 20,000 characters


def job(engine: Engine, text: str, rate: int = RATE, chunk: int = 1_600) -> Job:
    fmt = audio.AudioFormat(audio.LINEAR16, rate, 1)
    return Job(engine, VOICE, text, SynthesisOptions(), fmt, max_chunk_samples=chunk)


def test_a_stream_asks_for_sentences_only_as_it_is_read():
    engine = Counting()
    pieces = job(engine, LONG).pieces()
    first = [next(pieces) for _ in range(3)]
    assert engine.sentences == ["Another sentence."], "only the first sentence so far"
    assert [p.sentence_index for p in first] == [0, 0, 0]
    pieces.close()
    assert engine.closed == 1, "stopping the stream stops the engine mid-sentence"
    assert engine.finished == 0


def test_pieces_are_cut_to_the_chunk_size_with_running_offsets():
    engine = Counting()
    pieces = list(job(engine, "One. Two. Three.", chunk=700).pieces())
    assert engine.sentences == ["One.", "Two.", "Three."]
    assert all(p.samples <= 700 for p in pieces)
    assert sum(p.samples for p in pieces) == 3 * RATE // 2
    offsets = np.cumsum([0] + [p.samples for p in pieces[:-1]])
    assert [p.offset for p in pieces] == offsets.tolist()
    assert [p.sentence_index for p in pieces] == sorted(p.sentence_index for p in pieces)
    assert {p.sentence_index for p in pieces} == {0, 1, 2}
    assert all(len(p.audio) == 2 * p.samples for p in pieces)


def test_resampled_streams_keep_their_length():
    pieces = list(job(Counting(), "One. Two.", rate=44_100).pieces())
    total = sum(p.samples for p in pieces)
    assert abs(total - 44_100) <= 2, "1 s of audio at 44.1 kHz, filter tail included"


def test_a_long_stream_holds_one_piece_at_a_time():
    engine = Counting()
    count = 0
    for piece in job(engine, LONG, chunk=RATE).pieces():
        assert piece.samples <= RATE
        count += 1
    assert len(engine.sentences) == LONG.count(".")
    assert engine.finished == len(engine.sentences)
    assert count >= len(engine.sentences) // 2


def test_a_clip_is_the_whole_audio_resampled_once():
    data, samples = job(Counting(), "One. Two.", rate=8_000).clip()
    assert samples == 8_000 and len(data) == 16_000


def test_a_clip_stops_when_its_caller_is_gone():
    engine = Counting()
    stop = threading.Event()
    stop.set()
    data, samples = job(engine, LONG).clip(stop)
    assert engine.sentences == ["Another sentence."] and engine.closed == 1
    assert samples == RATE // 10


def test_the_first_piece_leaves_at_once_and_the_next_are_gathered_to_the_chunk_size():
    pieces = list(job(Counting(), "One. Two.", chunk=4_000).pieces())
    assert pieces[0].samples == RATE // 10, "the engine's first chunk, not a full piece"
    assert [p.samples for p in pieces] == [1_600, 4_000, 2_400, 4_000, 4_000]
    assert [p.sentence_index for p in pieces] == [0, 0, 0, 1, 1], "no piece spans sentences"
    offsets = np.cumsum([0] + [p.samples for p in pieces[:-1]])
    assert [p.offset for p in pieces] == offsets.tolist()


class Voiced(Counting):
    """0.3 s of tone, then 0.6 s of silence (the pause an engine leaves at the end of a text)."""

    def synthesize(self, text, voice, options):
        self.sentences.append(text)
        try:
            for k in range(9):
                yield np.full(RATE // 10, 0.25 if k < 3 else 0.0, np.float32)
            self.finished += 1
        except GeneratorExit:
            self.closed += 1
            raise


def _first_clause_job(engine: Engine, text: str) -> Job:
    fmt = audio.AudioFormat(audio.LINEAR16, RATE, 1)
    return Job(engine, VOICE, text, SynthesisOptions(), fmt, first_clause=True)


def test_a_stream_speaks_its_first_clause_alone_with_a_comma_pause():
    from services.tts.synthesis import CLAUSE_PAUSE_S

    engine = Voiced()
    text = "Good morning everybody, I hope you are all well today. See you soon."
    pieces = list(_first_clause_job(engine, text).pieces())
    assert engine.sentences == [
        "Good morning everybody,",
        "I hope you are all well today.",
        "See you soon.",
    ]
    assert {p.sentence_index for p in pieces} == {0, 1}, "the clause is part of sentence 0"
    first_sentence = sum(p.samples for p in pieces if p.sentence_index == 0)
    # The clause: its 0.3 s of sound and a comma's pause, not the 0.6 s of a text's end.
    assert first_sentence == round((0.3 + CLAUSE_PAUSE_S) * RATE) + round(0.9 * RATE)
    assert sum(p.samples for p in pieces) == first_sentence + round(0.9 * RATE)


def test_only_streams_cut_a_first_clause():
    engine = Voiced()
    text = "Good morning everybody, I hope you are all well today."
    data, samples = _first_clause_job(engine, text).clip()
    assert engine.sentences == [text] and samples == round(0.9 * RATE)
    short = Voiced()
    list(_first_clause_job(short, "Yes, of course.").pieces())
    assert short.sentences == ["Yes, of course."], "nothing to gain from cutting a short one"


def test_stopping_during_the_first_clause_stops_the_engine():
    engine = Voiced()
    pieces = _first_clause_job(engine, "Good morning everybody, I hope you are all well.").pieces()
    next(pieces)
    pieces.close()
    assert engine.sentences == ["Good morning everybody,"] and engine.closed == 1
