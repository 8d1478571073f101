"""Recognition window benchmark: Whisper on the fitted window against the full 30 s window.

Every utterance is decoded both ways in the same run, one after the other (the order
alternates), by the engine the server uses. Speech: the sentences of ``bench.sentences`` (1 to
12 s) in en, es, fr, de and it, each spoken by several voices (Pico, espeak-ng variants, MBROLA
and Piper at several speeds and pitches, see ``tests.voices``), clean and with pink noise at
12 dB SNR. Reported per language and window: WER (of the language's utterances together: their
errors over their reference words), decode time, fall-backs to the full window,
results dropped as unlikely speech (as the service drops them) and runaway outputs (more than
1.5x the reference's words).

Targets (issue 14), each a comparison inside this run:
- WER fitted <= WER full + 0.01 for every language;
- no runaway output with the fitted window;
- decode time fitted/full <= 0.35 at the median of utterances of 2-6 s.

Run: ``python -m bench.stt_window`` (``--quick``: one voice per sentence, clean only).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.paired import wer_difference_interval
from bench.sentences import SENTENCES
from parley.metrics import WINDOW_FALLBACKS
from parley.settings import resolve
from services.stt.config import SttConfig
from services.stt.engine import RecognitionOptions
from services.stt.hallucination import reason as unlikely
from services.stt.models import BUILTIN, default_cache_dir
from services.stt.whisper import WhisperRecognizer
from services.stt.window import FIT, FULL, WindowPolicy
from tests.speech import corpus_wer, wer
from tests.voices import Voice, say, voices

RESULTS = Path(__file__).resolve().parent / "results"
RATE = 16_000
SNR_DB = 12.0
WER_MARGIN = 0.01
# Synthetic voices that Whisper mishears (WER 0.2-0.5 in fr, de and it) make the two windows'
# WER differ by chance by about 0.02 a language with 48 utterances: 96 halve the variance.
VOICES_PER_SENTENCE = 4
TIME_RATIO = 0.35


@dataclass(frozen=True)
class Utterance:
    language: str
    text: str
    voice: Voice
    noisy: bool
    audio: np.ndarray

    @property
    def seconds(self) -> float:
        return self.audio.shape[0] / RATE


def machine() -> str:
    return (
        f"{platform.node()}: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    )


def pink_noise(n: int, seed: int) -> np.ndarray:
    """Pink (1/f) noise of unit RMS."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(spectrum.shape[0]), 1))
    noise = np.fft.irfft(spectrum, n)
    return (noise / np.sqrt(np.mean(noise**2))).astype(np.float32)


def with_noise(speech: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    power = np.mean(speech**2)
    noise = pink_noise(speech.shape[0], seed) * np.sqrt(power / 10 ** (snr_db / 10))
    return np.clip(speech + noise, -1, 1).astype(np.float32)


def corpus(quick: bool) -> list[Utterance]:
    """Each sentence by :data:`VOICES_PER_SENTENCE` voices (rotating through every voice of its
    language), clean and noisy; ``quick``: one voice, clean."""
    found = []
    pad = np.zeros(RATE // 5, np.float32)  # the endpointer's 200 ms of padding
    each = 1 if quick else VOICES_PER_SENTENCE
    for language, texts in SENTENCES.items():
        spoken_by = voices(language)
        for i, text in enumerate(texts):
            for j in range(each):
                voice = spoken_by[(each * i + j) % len(spoken_by)]
                clean = np.concatenate([pad, say(text, voice), pad])
                found.append(Utterance(language, text, voice, False, clean))
                if not quick:
                    noisy = with_noise(clean, SNR_DB, seed=len(found))
                    found.append(Utterance(language, text, voice, True, noisy))
    return found


def fallbacks() -> float:
    return sum(
        s.value for m in WINDOW_FALLBACKS.collect() for s in m.samples if s.name.endswith("_total")
    )


def measure(engines: dict[str, WhisperRecognizer], utterances: list[Utterance]) -> list[dict]:
    rows = []
    for n, u in enumerate(utterances):
        options = RecognitionOptions(language=u.language)
        row = {"language": u.language, "voice": u.voice.label, "noisy": u.noisy,
               "seconds": u.seconds, "reference": u.text}  # fmt: skip
        order = (FULL, FIT) if n % 2 else (FIT, FULL)
        for window in order:
            before = fallbacks()
            started = time.perf_counter()
            heard = engines[window].transcribe(u.audio, options)
            # What the service delivers: nothing for a result it judges unlikely speech.
            dropped = unlikely(heard, 1.0) is not None
            text = "" if dropped else heard.text
            row[window] = {
                "text": text,
                "dropped": dropped,
                "seconds": time.perf_counter() - started,
                "wer": wer(u.text, text),
                "fallback": fallbacks() > before,
                "runaway": len(text.split()) > 1.5 * len(u.text.split()),
                # The returned decode's (the fitted one's unless it fell back): what a
                # low-confidence fall-back would be judged on (see confidence_sweep).
                "avg_logprob": heard.avg_logprob,
            }
        rows.append(row)
        full, fit = row[FULL], row[FIT]
        print(
            f"  {n + 1:>3}/{len(utterances)} {u.language} {u.voice.label:<24}"
            f"{' noisy' if u.noisy else '      '} {u.seconds:5.1f} s"
            f"  full {full['seconds']:.2f} s WER {full['wer']:.2f}"
            f"  fit {fit['seconds']:.2f} s WER {fit['wer']:.2f}"
            f"{'  (fall-back)' if fit['fallback'] else ''}",
            flush=True,
        )
    return rows


def difference_interval(rows: list[dict]) -> tuple[float, float]:
    """90% interval of WER fitted - WER full over ``rows``: how far the difference could move
    by chance with other utterances alike."""
    return wer_difference_interval(
        [r["reference"] for r in rows], [r[FIT]["text"] for r in rows],
        [r[FULL]["text"] for r in rows],
    )  # fmt: skip


def summarise(rows: list[dict]) -> tuple[list[tuple], list[tuple[str, float, float, bool]]]:
    table, verdicts = [], []
    for language in SENTENCES:
        mine = [r for r in rows if r["language"] == language]
        # Corpus WER: every error over every reference word of the language.
        full_wer = corpus_wer((r["reference"], r[FULL]["text"]) for r in mine)
        fit_wer = corpus_wer((r["reference"], r[FIT]["text"]) for r in mine)
        table.append((
            language, len(mine), full_wer, fit_wer,
            statistics.median(r[FULL]["seconds"] for r in mine),
            statistics.median(r[FIT]["seconds"] for r in mine),
            sum(r[FIT]["fallback"] for r in mine),
            sum(r[FULL]["runaway"] for r in mine), sum(r[FIT]["runaway"] for r in mine),
            sum(r[FULL]["dropped"] for r in mine), sum(r[FIT]["dropped"] for r in mine),
            difference_interval(mine),
        ))  # fmt: skip
        verdicts.append((f"WER {language}, fitted - full", fit_wer - full_wer, WER_MARGIN,
                         fit_wer <= full_wer + WER_MARGIN))  # fmt: skip
    runaways = sum(r[FIT]["runaway"] for r in rows)
    verdicts.append(("runaway outputs, fitted window", runaways, 0, runaways == 0))
    # Short references (2-3 words) make a misheard noisy clip a "runaway" in both windows:
    # what the fitted window itself adds is a runaway the full window does not make.
    own = sum(r[FIT]["runaway"] and not r[FULL]["runaway"] for r in rows)
    verdicts.append(("  of them not also the full window's", own, 0, own == 0))
    mid = [r for r in rows if 2.0 <= r["seconds"] <= 6.0]
    ratio = statistics.median(r[FIT]["seconds"] / r[FULL]["seconds"] for r in mid)
    verdicts.append(
        (f"decode time fitted/full, median of {len(mid)} of 2-6 s", ratio, TIME_RATIO,
         ratio <= TIME_RATIO)
    )  # fmt: skip
    return table, verdicts


SWEEP = (-1.0, -0.9, -0.8, -0.7, -0.6, -0.5)


def _fitted_under(r: dict, threshold: float) -> tuple[str, float, bool]:
    """(text, seconds, decoded twice) of a row's fitted decode had the low-confidence
    fall-back been at ``threshold``."""
    fit, full = r[FIT], r[FULL]
    if not fit["fallback"] and fit.get("avg_logprob", 0.0) < threshold:
        return full["text"], fit["seconds"] + full["seconds"], True
    return fit["text"], fit["seconds"], fit["fallback"]


def confidence_sweep(rows: list[dict]) -> list[tuple[float, float, dict[str, float], float]]:
    """What stricter low-confidence fall-backs would give, from this run's decodes.

    A fitted decode that did not fall back and whose average log-probability is under a
    threshold would be decoded again with the full window: its text becomes the full window's
    (the same decode) and its time the sum of both. Returns (threshold, share of utterances
    decoded twice, {language: WER fitted - full}, decode time fitted/full at the median of
    2-6 s) per threshold of :data:`SWEEP` (the server's is -1.0).
    """
    found = []
    full_wer = {
        lang: corpus_wer((r["reference"], r[FULL]["text"]) for r in rows if r["language"] == lang)
        for lang in SENTENCES
    }
    for threshold in SWEEP:
        fitted = [(r, *_fitted_under(r, threshold)) for r in rows]  # (row, text, s, twice)
        twice = sum(again for *_, again in fitted) / len(rows)
        gaps = {
            lang: corpus_wer((r["reference"], text) for r, text, *_ in fitted
                             if r["language"] == lang) - full_wer[lang]
            for lang in SENTENCES
        }  # fmt: skip
        ratio = statistics.median(
            seconds / r[FULL]["seconds"] for r, _, seconds, _ in fitted
            if 2.0 <= r["seconds"] <= 6.0
        )  # fmt: skip
        found.append((threshold, twice, gaps, ratio))
    return found


BUCKETS = ((1.0, 2.0), (2.0, 4.0), (4.0, 6.0), (6.0, 9.0), (9.0, 14.0))


def by_length(rows: list[dict]) -> list[tuple[str, int, float, float, float]]:
    """(span, utterances, full s p50, fitted s p50, ratio p50) per length of utterance."""
    found = []
    for low, high in BUCKETS:
        part = [r for r in rows if low <= r["seconds"] < high]
        if part:
            found.append((
                f"{low:g}-{high:g} s", len(part),
                statistics.median(r[FULL]["seconds"] for r in part),
                statistics.median(r[FIT]["seconds"] for r in part),
                statistics.median(r[FIT]["seconds"] / r[FULL]["seconds"] for r in part),
            ))  # fmt: skip
    return found


def stt_window_markdown(data: dict) -> list[str]:
    """The section of docs/benchmarks.md for a saved run (see main)."""
    rows = data["rows"]
    table, verdicts = summarise(rows)
    # Runs saved before the window was recorded used the audio plus 1 s, at least 10 s.
    window = data.get("window", {"margin_ms": 1000, "min_ms": 10_000})
    out = [
        "## Recognition window",
        "",
        f"From `python -m bench.stt_window`, {data['when']}, on {data['machine']}: Whisper base,",
        f"{len(rows)} utterances of 1-12 s in en, es, fr, de and it ({data['voices']} voices of",
        "Pico, espeak-ng, MBROLA and Piper at several speeds and pitches, half of them with pink",
        "noise at 12 dB SNR), each decoded with the full 30 s window and with the fitted one",
        f"(the audio plus {window['margin_ms'] / 1000:g} s, at least {window['min_ms'] / 1000:g} s)"
        " by the engine the server runs, one after the other.",
        "A fall-back is a fitted decode whose output looked wrong (token budget reached, a loop,",
        "more words than the time allows, gzip ratio over 2.4, average log-probability under",
        "-1) and was decoded again with the full window; dropped results are those the service",
        "withholds as unlikely speech (services/stt/hallucination.py); a runaway is a result with",
        "more than 1.5 times the reference's words. WER is a language's errors over its",
        "reference words, all its utterances together.",
        "",
        "| language | utterances | WER full | WER fitted | fitted - full, 90% interval |"
        " decode p50 full | decode p50 fitted | fall-backs | dropped full / fitted |"
        " runaways full / fitted |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {lang} | {n} | {wf:.3f} | {wt:.3f} | {lo:+.3f} to {hi:+.3f} | {sf:.2f} s "
            f"| {st:.2f} s | {fb} | {df} / {dt} | {rf} / {rt} |"
            for lang, n, wf, wt, sf, st, fb, rf, rt, df, dt, (lo, hi) in table
        ),
        "",
        "The interval is a paired bootstrap over the language's utterances: where the difference",
        "of the two windows' WER could fall by chance with as many other utterances alike.",
        "",
        "| utterance length | utterances | decode p50 full | decode p50 fitted | fitted/full p50 |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {span} | {n} | {full:.2f} s | {fit:.2f} s | {ratio:.2f} |"
            for span, n, full, fit, ratio in by_length(rows)
        ),
        "",
        "| target | value | limit | result |",
        "| --- | --- | --- | --- |",
        *(
            f"| {name} | {value:.3f} | {target} | {'PASS' if ok else 'FAIL'} |"
            for name, value, target, ok in verdicts
        ),
        "",
    ]
    if any("avg_logprob" in r[FIT] for r in rows):  # runs before it kept no log-probability
        sweep = confidence_sweep(rows)
        out += [
            "What a stricter low-confidence fall-back would give, from the same decodes (a",
            "fitted decode under the threshold takes the full window's text, and both times):",
            "",
            "| fall-back under | decoded twice | "
            + " | ".join(f"WER {lang}, fitted - full" for lang in SENTENCES)
            + " | decode time fitted/full, 2-6 s |",
            "| --- | --- | " + " | ".join("---" for _ in SENTENCES) + " | --- |",
            *(
                f"| {threshold:.1f} | {twice:.0%} | "
                + " | ".join(f"{gap:+.3f}" for gap in gaps.values())
                + f" | {ratio:.3f} |"
                for threshold, twice, gaps, ratio in sweep
            ),
            "",
        ]
    return out


def report(rows: list[dict]) -> bool:
    table, verdicts = summarise(rows)
    print(
        f"\n{'lang':<6}{'n':>5}{'WER full':>10}{'WER fit':>9}{'full s p50':>12}{'fit s p50':>11}"
        f"{'fall-backs':>12}{'dropped full/fit':>18}{'runaways full/fit':>19}"
    )
    for lang, n, wf, wt, sf, st, fb, rf, rt, df, dt, (lo, hi) in table:
        print(
            f"{lang:<6}{n:>5}{wf:>10.3f}{wt:>9.3f}{sf:>12.2f}{st:>11.2f}{fb:>12}"
            f"{f'{df}/{dt}':>18}{f'{rf}/{rt}':>19}   fit-full 90%: {lo:+.3f} to {hi:+.3f}"
        )
    for noisy in (False, True):
        part = [r for r in rows if r["noisy"] == noisy]
        if part:
            full, fit = (corpus_wer((r["reference"], r[w]["text"]) for r in part)
                         for w in (FULL, FIT))  # fmt: skip
            print(f"{'noisy' if noisy else 'clean'}: WER full {full:.3f}, fit {fit:.3f}")
    print(f"\n{'length':<10}{'n':>5}{'full s p50':>12}{'fit s p50':>11}{'fit/full':>10}")
    for span, n, full, fit, ratio in by_length(rows):
        print(f"{span:<10}{n:>5}{full:>12.2f}{fit:>11.2f}{ratio:>10.2f}")
    print(
        f"\nlow-confidence fall-back under{'decoded twice':>15}"
        + "".join(f"{lang:>8}" for lang in SENTENCES)
        + f"{'fit/full 2-6 s':>16}"
    )
    for threshold, twice, gaps, ratio in confidence_sweep(rows):
        print(
            f"{threshold:>30.1f}{twice:>15.0%}"
            + "".join(f"{gap:>+8.3f}" for gap in gaps.values())
            + f"{ratio:>16.3f}"
        )
    print()
    for name, value, target, ok in verdicts:
        print(f"{name:<46}{value:>8.3f}  target {target:<6} {'PASS' if ok else 'FAIL'}")
    return all(ok for *_, ok in verdicts)


def engines(model: str, config: SttConfig) -> dict[str, WhisperRecognizer]:
    """The same model twice, loaded once: one engine per window."""
    source = next(s for s in BUILTIN if s.name == model)
    engine = WhisperRecognizer(
        source, default_cache_dir(config.cache_dir), "cpu", "int8", beam_size=config.beam_size
    )
    return {
        window: engine.with_window(
            WindowPolicy(window, config.window_margin_ms, config.window_min_ms)
        )
        for window in (FULL, FIT)
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one voice per sentence, clean")
    args = parser.parse_args()
    utterances = corpus(args.quick)
    print(f"{len(utterances)} utterances, {len({u.voice for u in utterances})} voices")
    # The server's settings, PARLEY_STT_WINDOW_MIN_MS and the others included.
    config = resolve(SttConfig)
    print(f"fitted window: the audio plus {config.window_margin_ms} ms, at least "
          f"{config.window_min_ms} ms")  # fmt: skip
    rows = measure(engines("whisper-base", config), utterances)
    passed = report(rows)
    if not args.quick:
        RESULTS.mkdir(parents=True, exist_ok=True)
        saved = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(),
                 "voices": len({u.voice for u in utterances}),
                 "window": {"margin_ms": config.window_margin_ms, "min_ms": config.window_min_ms},
                 "rows": rows}  # fmt: skip
        (RESULTS / "stt_window.json").write_text(json.dumps(saved, indent=1))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
