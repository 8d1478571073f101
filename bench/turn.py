"""End-of-turn benchmark: does Smart Turn tell a finished sentence from one cut off mid-way?

Speech: the sentences of five words or more of ``bench.sentences`` in en, es, fr, de and it,
spoken by every voice of ``tests.voices`` (Pico, espeak-ng variants, MBROLA, Piper). Each is
scored twice, as the endpointer would after 200 ms of silence: whole (a complete turn), and
cut at a word boundary near its middle (found with Whisper's word timings: a speaker who
hesitates). Reported per language and engine: the share of each kind judged rightly at the
threshold, and what the endpointing that would follow gives, against silence alone:

- silence alone (500 ms): a complete sentence ends 500 ms after the speech; a hesitation of
  600 ms always splits the sentence in two;
- Smart Turn: a sentence judged complete ends after 200 ms, one judged unfinished after the
  longest wait (1 s); a hesitation splits the sentence only if the cut-off half is judged
  complete.

Smart Turn wins where its mean wait after a complete sentence is shorter than silence alone
and it splits fewer hesitations. Run: ``python -m bench.turn``.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import numpy as np

from bench.sentences import SENTENCES
from services.stt.config import SttConfig
from services.stt.engine import RecognitionOptions
from services.stt.models import BUILTIN, default_cache_dir
from services.stt.turn import TurnModel
from services.stt.whisper import WhisperRecognizer
from tests.voices import say, voices

RATE = 16_000


def cut_in_middle(audio: np.ndarray, language: str, engine: WhisperRecognizer) -> np.ndarray:
    """The audio up to the end of the word nearest the middle of what Whisper hears."""
    words = engine.transcribe(audio, RecognitionOptions(language, word_timestamps=True)).words
    if len(words) < 4:
        return audio[: audio.shape[0] // 2]
    end = words[len(words) // 2 - 1].end
    return audio[: int((end + 0.03) * RATE)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=SttConfig().turn_threshold)
    args = parser.parse_args()
    config = SttConfig()
    engine = WhisperRecognizer(BUILTIN[0], default_cache_dir(), "cpu", "int8")
    model = TurnModel()
    check = np.zeros(int(RATE * config.turn_check_ms / 1000), np.float32)
    rows = []
    for language, texts in SENTENCES.items():
        for text in texts:
            if len(text.split()) < 5:
                continue
            for voice in voices(language):
                audio = say(text, voice)
                half = cut_in_middle(audio, language, engine)
                rows.append({
                    "language": language, "engine": voice.engine,
                    "complete": model.probability(np.concatenate([audio, check])),
                    "cut": model.probability(np.concatenate([half, check])),
                })  # fmt: skip
    t = args.threshold
    wait, longest = config.turn_check_ms, config.turn_max_silence_ms
    print(f"threshold {t}: share judged rightly, mean wait after a complete sentence (ms),"
          f" hesitations split")  # fmt: skip
    print(f"{'group':<10}{'n':>5}{'complete':>10}{'cut-off':>9}{'wait ms':>9}{'split':>7}"
          f"   silence alone: wait {SttConfig().min_silence_ms} ms, split 100%")  # fmt: skip
    groups = [("all", rows)]
    groups += [(lang, [r for r in rows if r["language"] == lang]) for lang in SENTENCES]
    groups += [
        (e, [r for r in rows if r["engine"] == e]) for e in sorted({r["engine"] for r in rows})
    ]
    verdict = None
    for name, part in groups:
        complete = statistics.mean(r["complete"] >= t for r in part)
        cut = statistics.mean(r["cut"] < t for r in part)
        mean_wait = statistics.mean(wait if r["complete"] >= t else longest for r in part)
        print(
            f"{name:<10}{len(part):>5}{complete:>10.0%}{cut:>9.0%}{mean_wait:>9.0f}{1 - cut:>7.0%}"
        )
        if verdict is None:
            verdict = mean_wait < SttConfig().min_silence_ms and cut > 0.5
    print(f"\nSmart Turn beats silence alone (shorter wait, fewer splits): {verdict_text(verdict)}")
    print("\nother thresholds (all voices): complete judged complete / cut-off judged unfinished")
    for other in (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98):
        complete = statistics.mean(r["complete"] >= other for r in rows)
        cut = statistics.mean(r["cut"] < other for r in rows)
        print(f"  {other:.2f}: {complete:.0%} / {cut:.0%}")
    return 0


def verdict_text(verdict: bool | None) -> str:
    return "YES" if verdict else "NO"


if __name__ == "__main__":
    sys.exit(main())
