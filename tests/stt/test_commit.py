"""Sentences committed while the speaker goes on: the rule, and real monologues."""

from __future__ import annotations

import asyncio
import time

import numpy as np

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


def test_run_on_speech_commits_at_a_clause_end_once_long_enough():
    committer = SentenceCommitter()
    long = "and we can review the plan together on Monday morning, and then we will go"
    committer.offer(words(long), 5.0)
    commit = committer.offer(words(long + " home"), 5.3)
    assert commit.text == "and we can review the plan together on Monday morning,"


def test_words_agreed_with_no_punctuation_commit_at_the_widest_pause_once_long_enough():
    committer = SentenceCommitter()
    first = words("please send me the report before friday the train leaves at eight")
    # The speaker paused after "friday" (the 7th word): 0.4 s instead of 0.05 s.
    paused = [w if i < 7 else Word(w.word, w.start + 0.35, w.end + 0.35, w.probability)
              for i, w in enumerate(first)]  # fmt: skip
    committer.offer(paused[:-1], 3.9)
    assert committer.offer(paused, 4.2) is None  # not yet run on for long enough
    commit = committer.offer(paused, 5.3)
    assert commit.text == "please send me the report before friday"
    assert paused[6].end <= commit.cut_s <= paused[7].start


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
