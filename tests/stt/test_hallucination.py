"""Sound that is not speech gives no text; speech still comes out whole."""

from __future__ import annotations

import numpy as np
import pytest

from parley.v1 import stt_pb2
from services.stt.engine import Transcript
from services.stt.hallucination import HallucinationFilter
from tests.sounds import babble, tones, white_noise
from tests.speech import silence, wer
from tests.stt.conftest import finals, recognize_stream
from tests.voices import Voice, say


@pytest.mark.parametrize(
    "sound",
    [babble(20.0), babble(20.0, talkers=3, seed=1), tones(15.0), white_noise(10.0)],
    ids=["babble of 5", "babble of 3", "tones", "white noise"],
)
async def test_no_text_comes_out_of_sound_that_is_not_speech(stt_stub, sound):
    config = stt_pb2.RecognitionConfig(language="en")
    results = finals(
        await recognize_stream(stt_stub, np.concatenate([sound, silence(1.0)]), config)
    )
    assert results == [], [r.text for r in results]


SPEECH = [
    ("Please send me the report before Friday.", Voice("pico", "en-US", "en")),
    ("I will call you back after the meeting.", Voice("piper", "joe", "en")),
    ("Der Zug fährt um acht Uhr morgens ab.", Voice("mbrola", "mb-de2", "de", speed=0.95)),
    ("Por favor, envíame el informe antes del viernes.", Voice("espeak", "es", "es")),
]


async def test_speech_after_babble_still_comes_out_whole(stt_stub):
    pieces = [babble(8.0, seed=2), silence(1.0)]
    for text, voice in SPEECH:
        pieces += [say(text, voice), silence(1.0)]
    results = finals(
        await recognize_stream(stt_stub, np.concatenate(pieces), stt_pb2.RecognitionConfig())
    )
    heard = [r.text for r in results]
    assert len(heard) == len(SPEECH), heard
    for (text, _), got in zip(SPEECH, heard, strict=True):
        assert wer(text, got) <= 0.35, (text, got)


def test_the_same_short_unsure_result_again_is_dropped_but_clear_or_long_ones_are_kept():
    unlikely = HallucinationFilter("test")
    man = Transcript("I am a man.", "en", 1.0, avg_logprob=-0.7, no_speech_prob=0.2)
    assert not unlikely.dropped(man, 0.97, final=True)
    assert unlikely.dropped(man, 0.97, final=True)
    assert unlikely.dropped(Transcript("i am a man", "en", 1.0, (), -0.7, 0.2), 0.97, True)
    # Said again, and heard clearly: a person repeating themselves.
    clear = Transcript("Good morning, how are you today?", "en", 1.0, (), -0.1, 0.01)
    assert not unlikely.dropped(clear, 0.9, final=True)
    assert not unlikely.dropped(clear, 0.9, final=True)
    long = Transcript(
        "We will meet again at the station at nine tomorrow.", "en", 1.0, (), -0.7, 0.2
    )
    assert not unlikely.dropped(long, 0.9, final=True)
    assert not unlikely.dropped(long, 0.9, final=True)


def test_each_signal_alone_marks_a_result_unlikely():
    unlikely = HallucinationFilter("test")
    assert unlikely.dropped(Transcript("Thank you.", "en", 1.0, (), -1.2, 0.8), 0.9, final=False)
    assert unlikely.dropped(Transcript("Right.", "en", 1.0, (), -1.8, 0.1), 0.9, final=False)
    assert unlikely.dropped(Transcript("la " * 40, "es", 1.0, (), -0.3, 0.1), 0.9, final=False)
    assert unlikely.dropped(Transcript("Okay then.", "en", 1.0, (), -0.3, 0.1), 0.3, final=False)
    assert not unlikely.dropped(Transcript("Okay then.", "en", 1.0, (), -0.3, 0.1), 0.9, False)
