"""Sentences committed while the speaker goes on: the rule, and real monologues."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from parley.v1 import audio_pb2, stt_pb2
from services.stt.commit import SentenceCommitter, without_repeated_head
from services.stt.engine import Word
from tests.speech import pcm16, silence, voiced_span_ms, wer
from tests.stt.conftest import finals, recognize_stream
from tests.voices import Voice, say

LINES = [
    "Please send me the report before Friday.",
    "The train leaves at eight in the morning.",
    "I will call you back after the meeting.",
    "We need two more chairs for the guests in the second row.",
    "The weather is lovely today, so we will walk to the park after lunch.",
]


def words(text: str, step: float = 0.3) -> list[Word]:
    return [Word(w, i * step, i * step + 0.25, 0.9) for i, w in enumerate(text.split())]


def test_two_decodes_that_agree_commit_up_to_the_sentence_end():
    committer = SentenceCommitter()
    assert committer.offer(words("Please send me the report"), 1.6) is None  # nothing to compare
    commit = committer.offer(words("Please send me the report before Friday. The train"), 3.0)
    assert commit is None  # "before Friday." was not in the previous decode
    commit = committer.offer(
        words("Please send me the report before Friday. The train leaves"), 3.4
    )
    assert commit.text == "Please send me the report before Friday."
    # Cut between "Friday." (ends 2.05 s) and "The" (starts 2.1 s).
    assert 2.05 <= commit.cut_s <= 2.1


def test_decodes_that_disagree_commit_nothing():
    committer = SentenceCommitter()
    committer.offer(words("Please sent me the report. Before"), 2.0)
    assert committer.offer(words("Please send me the report. Before Friday"), 2.4) is None


def second_of_two(first, first_s: float, second, second_s: float, pauses=()):
    """What a fresh committer commits when offered two decodes of the same audio."""
    committer = SentenceCommitter()
    committer.offer(first, first_s, pauses)
    return committer.offer(second, second_s, pauses)


def test_a_clause_end_both_decodes_agree_on_commits_if_the_clause_is_long_enough():
    long = "and we can review the plan together on Monday morning, and then we will go"
    commit = second_of_two(words(long), 5.0, words(long + " home"), 5.3)
    assert commit.text == "and we can review the plan together on Monday morning,"
    # Whisper wrote a full stop, then a comma, where one sentence ran into the next.
    commit = second_of_two(
        words("I will call you back after the meeting."), 2.0,
        words("I will call you back after the meeting, we need"), 2.8,
    )  # fmt: skip
    assert commit.text == "I will call you back after the meeting,"
    # Too short a clause waits: "Yes," or "Well, yes," is not sent on its own.
    assert second_of_two(words("Yes, of course"), 2.6, words("Yes, of course we"), 3.0) is None
    assert second_of_two(words("Well, yes, of"), 2.6, words("Well, yes, of course"), 3.0) is None
    # Three words are not a first piece: an ordinary utterance stays whole.
    said = "Good morning everyone, how are you"
    assert second_of_two(words(said), 2.6, words(said + " today"), 3.0) is None
    # Once the speaker runs on, they are: a sentence's tail after a committed piece does not
    # wait for the next sentence's clause end (the monologue benchmark: heard 5 s late).
    committer = SentenceCommitter()
    committer.offer(words("después de comer, mi hermana"), 2.6, running_on=True)
    tail = committer.offer(words("después de comer, mi hermana trabaja"), 3.0, running_on=True)
    assert tail.text == "después de comer,"


def test_an_utterance_too_short_to_gain_from_pieces_is_heard_whole():
    said = "Good morning. The report"
    assert second_of_two(words("Good morning. The"), 1.2, words(said), 1.9) is None
    assert second_of_two(words("Good morning. The"), 2.5, words(said), 3.2).text == "Good morning."
    # Once the speaker runs on (a piece of the utterance is already out), no such wait.
    committer = SentenceCommitter()
    committer.offer(words("Good morning. The"), 1.2, running_on=True)
    assert committer.offer(words(said), 1.9, running_on=True).text == "Good morning."


def test_a_word_guessed_differently_each_time_does_not_hold_back_the_clause_after_it():
    first = words("me voy a suier a vos, por favor, emi a mi")
    second = words("me voy a suir a vos, por favor, envíame el informe")
    # The second decode's words, up to where both end the same clause at the same time.
    assert second_of_two(first, 3.5, second, 3.9).text == "me voy a suir a vos, por favor,"
    # The same words at another time are another clause: no commit.
    shifted = [Word(w.word, w.start + 0.6, w.end + 0.6, w.probability) for w in second]
    assert second_of_two(first, 3.5, shifted, 3.9) is None


def test_a_clause_whose_last_word_is_guessed_differently_each_time_still_commits():
    # Pico's "job" before a breath, heard as "jock," then "jog," (a monologue, measured).
    first = words("and she loves her jock, could you tell me where")
    second = words("and she loves her jog, could you tell me where the nearest")
    assert second_of_two(first, 3.0, second, 3.6).text == "and she loves her jog,"
    # The words before it differ too: not the same clause.
    other = words("and he loved a jock, could you tell me where the nearest")
    assert second_of_two(first, 3.0, other, 3.6) is None


def test_a_pause_heard_after_agreed_words_commits_them_and_the_cut_falls_in_it():
    spoken = words("i think we should start the project next week and we can review the plan")
    # Whisper ends "week" (2.65 s) 0.25 s before the pause heard (2.9-3.2 s) and stretches
    # "and" (2.7-2.95 s) back into it, as its timings do around a pause.
    pauses = [(0.05, 0.1), (2.9, 3.2)]
    commit = second_of_two(spoken[:-2], 4.0, spoken, 4.6, pauses)
    assert commit.text == "i think we should start the project next week"
    assert commit.cut_s == pytest.approx(3.05)
    # No pause heard: nothing to cut at yet.
    assert second_of_two(spoken[:-2], 4.0, spoken, 4.6) is None


def test_words_agreed_with_no_punctuation_commit_at_the_widest_pause_once_long_enough():
    committer = SentenceCommitter()
    first = words(
        "please send me the report before friday the train leaves at eight in the morning"
    )
    # The speaker paused after "friday" (the 7th word): 0.4 s instead of 0.05 s.
    paused = [w if i < 7 else Word(w.word, w.start + 0.35, w.end + 0.35, w.probability)
              for i, w in enumerate(first)]  # fmt: skip
    committer.offer(paused[:-3], 3.9)
    assert committer.offer(paused[:-2], 4.2) is None  # agreed on 3.9 s: not yet long enough
    commit = committer.offer(paused[:-1], 4.5)
    assert commit.text == "please send me the report before friday"
    assert paused[6].end <= commit.cut_s <= paused[7].start


def test_a_run_on_piece_is_cut_before_the_last_agreed_word_that_opens_a_clause():
    def offered(first: str, second: str, language: str | None, running_on: bool = True):
        committer = SentenceCommitter()
        committer.offer(words(first), 3.0, language=language, running_on=running_on)
        return committer.offer(words(second), 3.6, language=language, running_on=running_on)

    spoken = "do their homework and then play football in the garden until dinner is"
    commit = offered(spoken, spoken + " ready", "en")
    assert commit.text == "do their homework and then play football in the garden"
    # "until" is only in the second decode: the cut falls before the last opener both have.
    garden = "do their homework and then play football in the garden"
    assert offered(garden, garden + " until", "en").text == "do their homework"
    commit = offered("hacen los deberes y después juegan", "hacen los deberes y después juegan al",
                     "es")  # fmt: skip
    assert commit.text == "hacen los deberes"
    # The first piece of an utterance, or a language with no openers listed, waits.
    assert offered(spoken, spoken + " ready", "en", running_on=False) is None
    assert offered(spoken, spoken + " ready", None) is None
    # Whisper heard a word that was not said at the start of one decode ("They", from the
    # context): no word agrees from the start, but both put "their homework and" at one moment.
    first = words("They do their homework and then play football")
    second = [Word(w.word, w.start + 0.3, w.end + 0.3, w.probability)
              for w in words("Do their homework and then play football in the garden")]  # fmt: skip
    committer = SentenceCommitter()
    committer.offer(first, 2.4, language="en", running_on=True)
    assert committer.offer(second, 3.2, language="en", running_on=True).text == "Do their homework"
    later = [Word(w.word, w.start + 1.0, w.end + 1.0, w.probability) for w in second]
    committer.offer(first, 2.4, language="en", running_on=True)
    assert committer.offer(later, 3.2, language="en", running_on=True) is None
    # Too short a piece is not cut off: "and" is the second word.
    assert offered("they and we went home", "they and we went home now", "en") is None


def test_a_word_heard_on_both_sides_of_a_cut_is_said_once():
    assert without_repeated_head("Friday. The train leaves", "before Friday.") == (
        "The train leaves"
    )
    assert without_repeated_head("The train leaves", "before Friday.") == "The train leaves"


def monologue(voice: Voice) -> tuple[np.ndarray, str]:
    """The lines one after the other, 120 ms apart (no pause long enough to end an utterance)."""
    pieces = [silence(0.3)]
    for line in LINES:
        clip = say(line, voice)
        start, end = voiced_span_ms(clip)
        pieces += [clip[int(start * 16) : int(end * 16)], silence(0.12)]
    return np.concatenate([*pieces, silence(1.5)]), " ".join(LINES)


async def stream_paced(stub, samples: np.ndarray, config, speed: float = 1.5):
    """Streams ``samples`` at ``speed`` times real time; returns every final result."""
    data, step = pcm16(samples), 3200
    started = time.perf_counter()

    async def requests():
        yield stt_pb2.StreamingRecognizeRequest(config=config)
        for i in range(0, len(data), step):
            await asyncio.sleep(max(0.0, started + i / 32_000 / speed - time.perf_counter()))
            yield stt_pb2.StreamingRecognizeRequest(
                audio=audio_pb2.AudioChunk(data=data[i : i + step])
            )

    return finals([r async for r in stub.StreamingRecognize(requests())])


async def test_a_monologue_is_heard_sentence_by_sentence_and_nothing_is_lost(stt_stub):
    for voice in (Voice("pico", "en-US", "en"), Voice("piper", "joe", "en")):
        audio, script = monologue(voice)
        config = stt_pb2.RecognitionConfig(language="en", commit=stt_pb2.COMMIT_MODE_SENTENCE)
        results = await stream_paced(stt_stub, audio, config)
        assert sum(r.mid_utterance for r in results) >= 2, [r.text for r in results]
        assert [r.segment_index for r in results] == list(range(len(results)))
        joined = " ".join(r.text for r in results)
        # What one recognition of the whole clip hears, word for word within the bound.
        whole = stt_pb2.RecognizeRequest(
            config=stt_pb2.RecognitionConfig(
                language="en", endpointing=stt_pb2.EndpointingConfig(max_utterance_ms=15_000)
            ),
            audio=pcm16(audio),
        )
        clip = " ".join(r.text for r in (await stt_stub.Recognize(whole)).results)
        assert wer(script, joined) <= wer(script, clip) + 0.05, (joined, clip)
        assert wer(script, joined) <= 0.1, joined


async def test_a_speaker_who_pauses_gets_one_final_per_sentence_as_before(stt_stub):
    voice = Voice("pico", "en-US", "en")
    pieces = [silence(0.3)]
    for line in LINES[:3]:
        pieces += [say(line, voice), silence(1.2)]
    samples = np.concatenate(pieces)
    by_mode = {}
    for mode in (stt_pb2.COMMIT_MODE_SENTENCE, stt_pb2.COMMIT_MODE_UTTERANCE):
        config = stt_pb2.RecognitionConfig(language="en", commit=mode)
        by_mode[mode] = finals(await recognize_stream(stt_stub, samples, config))
    sentence, utterance = by_mode.values()
    assert [r.text for r in sentence] == [r.text for r in utterance]
    assert len(sentence) == 3 and not any(r.mid_utterance for r in sentence)
