"""Endpointing on real speech: utterance boundaries, long speech cut, bounded memory."""

from __future__ import annotations

import numpy as np

from services.stt.endpointer import (
    Endpointer,
    EndpointingOptions,
    SpeechStarted,
    UtteranceEnded,
    UtteranceMayEnd,
)
from tests.speech import silence, speak, voiced_span_ms

SENTENCES = [
    ("The weather is lovely today, so we will walk to the park.", "en"),
    ("Please send me the report before the meeting on Friday.", "en"),
    ("Buenos días, me gustaría reservar una mesa para cuatro personas.", "es"),
]


def run(endpointer: Endpointer, samples: np.ndarray, chunk: int = 1600):
    events = []
    for i in range(0, samples.size, chunk):
        events.extend(endpointer.feed(samples[i : i + chunk]))
    return events + endpointer.flush()


def test_each_sentence_is_one_utterance():
    clips = [speak(text, lang) for text, lang in SENTENCES]
    stream = np.concatenate([x for clip in clips for x in (silence(1.0), clip)])
    events = run(Endpointer(EndpointingOptions()), stream)
    ended = [e for e in events if isinstance(e, UtteranceEnded)]
    firm = [type(e).__name__ for e in events if not isinstance(e, UtteranceMayEnd)]
    assert firm == ["SpeechStarted", "UtteranceEnded"] * 3
    for i, end in enumerate(events):
        if isinstance(end, UtteranceEnded):
            # The last early announcement describes exactly the utterance that then ends.
            may = events[i - 1]
            assert isinstance(may, UtteranceMayEnd)
            assert (may.index, may.start, may.end) == (end.index, end.start, end.end)
            assert np.array_equal(may.audio, end.audio)
    for event, clip in zip(ended, clips, strict=True):
        assert abs(event.audio.size - clip.size) < 16_000 * 0.8
        # The audio starts 200 ms (3200 samples) before the speech, to the frame.
        assert abs(event.audio.size - (event.end - event.start + 3200)) < 512


def test_a_short_pause_inside_a_sentence_does_not_split_it():
    start_ms, end_ms = voiced_span_ms(speak("Yes, I agree.", "en"))
    clip = speak("Yes, I agree.", "en")[int(start_ms * 16) : int(end_ms * 16)]
    stream = np.concatenate([silence(0.5), clip, silence(0.25), clip, silence(1.0)])
    ended = [
        e for e in run(Endpointer(EndpointingOptions()), stream) if isinstance(e, UtteranceEnded)
    ]
    assert len(ended) == 1
    split = [
        e
        for e in run(Endpointer(EndpointingOptions(min_silence_ms=150)), stream)
        if isinstance(e, UtteranceEnded)
    ]
    assert len(split) >= 2


def test_a_pause_inside_the_utterance_is_reported_where_it_was_heard():
    clips = []
    for text, voice in (("Please send me the report", "en"), ("before Friday.", "en")):
        start_ms, end_ms = voiced_span_ms(speak(text, voice))
        clips.append(speak(text, voice)[int(start_ms * 16) : int(end_ms * 16)])
    stream = np.concatenate([silence(0.5), clips[0], silence(0.25), clips[1]])
    endpointer = Endpointer(EndpointingOptions())
    for i in range(0, stream.size, 1600):
        endpointer.feed(stream[i : i + 1600])
    gap_start = 8000 + clips[0].size  # stream samples
    pauses = [p for p in endpointer.pauses() if p[1] - p[0] >= 16_000 * 0.1]
    assert len(pauses) == 1, endpointer.pauses()
    start, end = pauses[0]
    # Heard within a frame or two of where the silence really is.
    assert gap_start - 1100 <= start and end <= gap_start + 4000 + 1100, (start, end, gap_start)


def test_an_end_announced_early_is_withdrawn_when_speech_resumes():
    start_ms, end_ms = voiced_span_ms(speak("Yes, I agree.", "en"))
    clip = speak("Yes, I agree.", "en")[int(start_ms * 16) : int(end_ms * 16)]
    stream = np.concatenate([silence(0.5), clip, silence(0.35), clip, silence(1.0)])
    events = run(Endpointer(EndpointingOptions()), stream)
    may = [e for e in events if isinstance(e, UtteranceMayEnd)]
    (ended,) = [e for e in events if isinstance(e, UtteranceEnded)]
    assert len(may) >= 2 and may[0].end < ended.end == may[-1].end


def test_speech_longer_than_the_limit_is_cut():
    speech = np.concatenate([speak(t, lang) for t, lang in SENTENCES * 2])  # ~25 s, few pauses
    options = EndpointingOptions(max_utterance_ms=5000, min_silence_ms=2000)
    ended = [e for e in run(Endpointer(options), speech) if isinstance(e, UtteranceEnded)]
    assert len(ended) >= speech.size / 16_000 / 5
    for event in ended:
        assert event.end - event.start <= 5000 * 16 + 512
    covered = sum(e.end - e.start for e in ended)
    assert covered > 0.8 * speech.size


def test_ten_minute_stream_holds_only_the_current_utterance():
    clip = np.concatenate([speak(SENTENCES[1][0], "en"), silence(1.0)])
    endpointer = Endpointer(EndpointingOptions())
    repeats = int(600 * 16_000 / clip.size)
    largest_buffer = utterances = 0
    for _ in range(repeats):
        for i in range(0, clip.size, 1600):
            for event in endpointer.feed(clip[i : i + 1600]):
                utterances += isinstance(event, UtteranceEnded)
            largest_buffer = max(largest_buffer, endpointer.current_audio().size)
    assert endpointer.position >= 599 * 16_000
    assert utterances >= repeats - 1
    assert largest_buffer < clip.size + 16_000


def test_silence_and_quiet_noise_are_not_speech():
    rng = np.random.default_rng(1)
    noise = (rng.standard_normal(16_000 * 5) * 0.005).astype(np.float32)
    assert run(Endpointer(EndpointingOptions()), np.concatenate([silence(5), noise])) == []


def test_flush_ends_the_utterance_in_progress():
    clip = speak(SENTENCES[0][0], "en")
    endpointer = Endpointer(EndpointingOptions())
    events = []
    for i in range(0, clip.size // 2, 1600):
        events.extend(endpointer.feed(clip[i : i + 1600]))
    assert any(isinstance(e, SpeechStarted) for e in events)
    flushed = endpointer.flush()
    assert len(flushed) == 1 and isinstance(flushed[0], UtteranceEnded)
