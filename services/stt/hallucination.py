"""Results that are not speech: what Whisper "hears" in babble, music and noise.

Whisper writes fluent sentences for sound that is not speech ("I am a man.", "Thank you for
watching."), and the voice activity model passes speech-like sound such as babble. A result is
dropped when the signals together mark it as unlikely speech:

- a high no-speech probability from Whisper, or a fairly high one with an unsure decoding;
- a very low average log-probability alone (the decoder guessed every token);
- a loop that survived the engine's guards (gzip ratio over 2.4);
- a low voice-activity score over the utterance;
- the same short text again within the last few results of the stream, heard with less than
  full confidence: a hallucination on steady noise often repeats itself ("I am a man." over
  and over); a speaker who says the same thing again is heard clearly, and kept.

The thresholds come from measurement (Whisper base; docs/security.md): on 240 utterances of 42
synthetic voices in five languages, half with noise at 12 dB SNR, the no-speech probability was
at most 0.43 (p99 0.31), and four utterances were dropped, all of them misheard anyway (WER
0.33-1.25); all 25 utterances of babble (2-6 voices of five languages played backwards) were.
"""

from __future__ import annotations

import re
from collections import deque

from parley.metrics import SUPPRESSED_RESULTS
from services.stt.engine import Transcript
from services.stt.window import compression_ratio

NO_SPEECH = 0.35  # alone
UNSURE_NO_SPEECH, UNSURE_LOGPROB = 0.25, -0.8  # together
VERY_LOW_LOGPROB = -1.5
MIN_SPEECH_PROBABILITY = 0.5
REPEAT_WINDOW = 4  # results of the stream compared
SHORT_WORDS = 6  # a repeated text this short is suspect ...
CLEAR_NO_SPEECH, CLEAR_LOGPROB = 0.15, -0.6  # ... unless heard this clearly (speech p95)

_WORD = re.compile(r"\w+")


def reason(transcript: Transcript, speech_probability: float) -> str | None:
    """Why ``transcript`` is unlikely to be speech, or None."""
    if transcript.no_speech_prob > NO_SPEECH or (
        transcript.no_speech_prob > UNSURE_NO_SPEECH and transcript.avg_logprob < UNSURE_LOGPROB
    ):
        return "no_speech"
    if transcript.avg_logprob < VERY_LOW_LOGPROB:
        return "low_confidence"
    if compression_ratio(transcript.text) > 2.4:
        return "compression"
    if speech_probability < MIN_SPEECH_PROBABILITY:
        return "voice_activity"
    return None


class HallucinationFilter:
    """Drops one stream's unlikely results (see the module's doc), counting each in metrics."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._recent: deque[str] = deque(maxlen=REPEAT_WINDOW)

    def dropped(
        self, transcript: Transcript, speech_probability: float, final: bool, agreed: bool = False
    ) -> bool:
        """True if ``transcript`` should not reach the caller; finals are remembered.

        ``agreed`` text (two decodes of the unfinished utterance said it word for word) is
        speech by that test: only a very low confidence or a loop drops it (the no-speech
        probability of a decode that starts between two sentences says little).
        """
        why = reason(transcript, speech_probability)
        if agreed and why not in ("low_confidence", "compression"):
            why = None
        key = " ".join(_WORD.findall(transcript.text.lower()))
        unsure = (
            transcript.no_speech_prob > CLEAR_NO_SPEECH or transcript.avg_logprob < CLEAR_LOGPROB
        )
        if why is None and final and unsure and len(key.split()) <= SHORT_WORDS:
            why = "repeated" if key in self._recent else None
        if final:
            self._recent.append(key)
        if why is not None:
            SUPPRESSED_RESULTS.labels(self._model, why).inc()
            return True
        return False
