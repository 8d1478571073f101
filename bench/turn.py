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
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from bench.sentences import SENTENCES
from services.stt.config import SttConfig
from services.stt.engine import RecognitionOptions
from services.stt.models import BUILTIN, default_cache_dir
from services.stt.turn import TurnModel
from services.stt.whisper import WhisperRecognizer
from tests.voices import say, voices

RATE = 16_000
RESULTS = Path(__file__).resolve().parent / "results"


def cut_in_middle(audio: np.ndarray, language: str, engine: WhisperRecognizer) -> np.ndarray:
    """The audio up to the end of the word nearest the middle of what Whisper hears."""
    words = engine.transcribe(audio, RecognitionOptions(language, word_timestamps=True)).words
    if len(words) < 4:
        return audio[: audio.shape[0] // 2]
    end = words[len(words) // 2 - 1].end
    return audio[: int((end + 0.03) * RATE)]


def measure(config: SttConfig) -> list[dict]:
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
    return rows


def summary(rows: list[dict], threshold: float, config: SttConfig) -> list[tuple]:
    """(group, n, complete judged complete, cut-off judged unfinished, mean wait ms, split)."""
    groups = [("all", rows)]
    groups += [(lang, [r for r in rows if r["language"] == lang]) for lang in SENTENCES]
    engines = sorted({r["engine"] for r in rows})
    groups += [(e, [r for r in rows if r["engine"] == e]) for e in engines]
    found = []
    for name, part in groups:
        complete = statistics.mean(r["complete"] >= threshold for r in part)
        cut = statistics.mean(r["cut"] < threshold for r in part)
        wait = statistics.mean(
            config.turn_check_ms if r["complete"] >= threshold else config.turn_max_silence_ms
            for r in part
        )
        found.append((name, len(part), complete, cut, wait, 1 - cut))
    return found


def wins(rows: list[dict], threshold: float, config: SttConfig) -> bool:
    """Shorter mean wait after complete sentences and fewer split hesitations than silence."""
    _, _, _, cut, wait, _ = summary(rows, threshold, config)[0]
    return wait < config.min_silence_ms and cut > 0.5


SWEEP = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98)


def turn_markdown(data: dict) -> list[str]:
    """The section of docs/benchmarks.md for a saved run (see main)."""
    config, rows, t = SttConfig(), data["rows"], data["threshold"]
    out = [
        "## End of turn",
        "",
        f"From `python -m bench.turn`, {data['when']}: Smart Turn v3.2 on {len(rows)} sentences",
        "of five words or more in en, es, fr, de and it, each spoken by every voice (Pico,",
        "espeak-ng, MBROLA, Piper), judged as the endpointer would after 200 ms of silence:",
        "whole, and cut at a word boundary near its middle (a speaker who hesitates). With",
        f"Smart Turn (threshold {t}), a pause judged complete ends the utterance after",
        f"{config.turn_check_ms} ms, one judged unfinished after {config.turn_max_silence_ms} ms;",
        f"silence alone ends every utterance after {config.min_silence_ms} ms, so it splits every",
        "hesitation longer than that and none shorter.",
        "",
        "| voices | sentences | complete judged complete | cut-off judged unfinished |"
        " mean wait after a complete sentence | hesitations split |",
        "| --- | --- | --- | --- | --- | --- |",
        *(
            f"| {g} | {n} | {c:.0%} | {u:.0%} | {w:.0f} ms | {s:.0%} |"
            for g, n, c, u, w, s in summary(rows, t, config)
        ),
        "",
        "Other thresholds, all voices (complete judged complete / cut-off judged unfinished): "
        + ", ".join(
            f"{x}: {statistics.mean(r['complete'] >= x for r in rows):.0%} / "
            f"{statistics.mean(r['cut'] < x for r in rows):.0%}"
            for x in SWEEP
        )
        + ".",
        "",
    ]
    if wins(rows, t, config):
        out.append("Smart Turn beats silence alone on these voices.")
    else:
        out += [
            "On these synthetic voices Smart Turn does not separate the two: it judges most",
            "sentences cut off mid-way complete, so with it on, a speaker who pauses 200 ms",
            "mid-sentence would be cut where silence alone waits 500 ms, and no threshold keeps",
            "complete sentences fast while holding hesitations. It is therefore off by default",
            "(`PARLEY_STT_TURN=off`); `PARLEY_STT_TURN=smart-turn` turns it on. It was trained on",
            "people's speech, whose rhythm these voices lack; this benchmark has none to try.",
        ]
    return [*out, ""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=SttConfig().turn_threshold)
    args = parser.parse_args()
    config = SttConfig()
    rows = measure(config)
    print(f"{'group':<10}{'n':>5}{'complete':>10}{'cut-off':>9}{'wait ms':>9}{'split':>7}")
    for name, n, complete, cut, wait, split in summary(rows, args.threshold, config):
        print(f"{name:<10}{n:>5}{complete:>10.0%}{cut:>9.0%}{wait:>9.0f}{split:>7.0%}")
    print(f"silence alone: wait {config.min_silence_ms} ms, hesitations over it split")
    for x in SWEEP:
        complete = statistics.mean(r["complete"] >= x for r in rows)
        cut = statistics.mean(r["cut"] < x for r in rows)
        print(f"  threshold {x:.2f}: complete judged complete {complete:.0%}, cut-off {cut:.0%}")
    verdict = wins(rows, args.threshold, config)
    print(f"Smart Turn beats silence alone: {'YES' if verdict else 'NO'} "
          f"(default PARLEY_STT_TURN={config.turn})")  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    saved = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
             "threshold": args.threshold, "rows": rows}  # fmt: skip
    (RESULTS / "turn.json").write_text(json.dumps(saved, indent=1))
    # The default must follow the measurement: on only where it wins.
    return 0 if verdict == (config.turn == "smart-turn") else 1


if __name__ == "__main__":
    sys.exit(main())
