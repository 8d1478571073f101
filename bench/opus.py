"""Opus against PCM: what a listener receives, what the server spends, what recognition hears.

Two parts, each comparing the two encodings inside one run on one server (``parley serve`` on
the embedded defaults):

- Rooms: one English speaker says the same lines to a room of 3 and then of 200 listeners
  (Spanish, French and Italian in turn), once with every listener asking for 16 kHz LINEAR16
  and once for Ogg Opus at 24 kbit/s, the two runs alternating. Measured: bytes a listener
  receives per second of speech, the server's CPU seconds per utterance, and end of speech ->
  first audio chunk at a listener.
- Recognition: sentences in five languages by several voices (Pico, Piper, espeak-ng),
  sent as 16 kHz LINEAR16 and as Ogg Opus at 16 and 24 kbit/s, encoded as WebRTC and phones
  encode speech (libopus's ``voip`` application, see tests/encoded.py); WER of each (all the
  sentences' errors over all their reference words).

Targets (issue 20): bytes per listener Opus/PCM <= 0.12; CPU per utterance at 200 listeners
Opus/PCM <= 1.1; WER on Opus input <= PCM WER + 0.01; first audio no later than PCM's by more
than one Opus frame (20 ms) at the median.

Run: ``python -m bench.opus`` (about 6 minutes); writes bench/results/opus.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from bench.room import Server, make_lines, percentile, speak
from bench.sentences import SENTENCES
from parley.v1 import audio_pb2
from parley_client import Connection
from tests.encoded import encode
from tests.speech import corpus_wer, silence, wer
from tests.voices import say, voices

RESULTS = Path(__file__).resolve().parent / "results"
PCM = audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hz=16_000)
OPUS = audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_OGG_OPUS, bitrate_bps=24_000)
FORMATS = {"pcm": PCM, "opus": OPUS}
LISTENERS = (3, 200)
UTTERANCES = 4
HEAR = ("es", "fr", "it")
TARGETS = {"bytes_ratio": 0.12, "cpu_ratio_200": 1.1, "wer_margin": 0.01, "first_audio_ms": 20.0}


class Ear:
    """One listener: bytes and audio seconds received, and when each utterance's audio began."""

    def __init__(self, session) -> None:
        self.session = session
        self.bytes = 0
        self.seconds = 0.0
        self.first: dict[str, float] = {}
        self.ends = 0
        self.changed = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for event in self.session.events():
            kind = event.WhichOneof("event")
            if kind == "audio_chunk":
                self.bytes += len(event.audio_chunk.data)
                self.first.setdefault(event.audio_chunk.utterance_id, time.perf_counter())
            elif kind == "audio_end":
                self.seconds += event.audio_end.duration.ToNanoseconds() / 1e9
                self.ends += 1
                self.changed.set()


async def _all_heard(ears: list[Ear], count: int, within_s: float) -> None:
    """Waits until every listener has had ``count`` utterances' audio end (or time is up)."""
    deadline = time.perf_counter() + within_s
    while (late := next((e for e in ears if e.ends < count), None)) is not None:
        late.changed.clear()
        if late.ends >= count:
            continue
        try:
            await asyncio.wait_for(late.changed.wait(), max(0.0, deadline - time.perf_counter()))
        except TimeoutError:
            return


async def room_run(server: Server, lines, listeners: int, fmt: str) -> dict:
    async with Connection(server.address) as parley:
        room = (await parley.rooms.create(open_room=True)).room.room_id
        speaker = parley.rooms.join(room, "Speaker", "en", "en", captions_only=True)
        ears = [
            Ear(parley.rooms.join(room, f"L{i}", HEAR[i % 3], output_format=FORMATS[fmt]))
            for i in range(listeners)
        ]
        await asyncio.sleep(1.0 + listeners / 100)
        cpu0, lags = server.cpu_seconds(), []
        for k, line in enumerate(lines["en"][1 : 1 + UTTERANCES], start=1):
            ended = await speak(speaker, line)
            await _all_heard(ears, k, within_s=60)
            lags += [max(e.first.values()) - ended for e in ears[:3] if e.first]
        cpu = (server.cpu_seconds() - cpu0) / UTTERANCES
        heard_s = sum(e.seconds for e in ears)
        for session in (speaker, *(e.session for e in ears)):
            session.leave()
        for ear in ears:
            ear.task.cancel()
        await asyncio.sleep(1.0)
    return {
        "listeners": listeners,
        "format": fmt,
        "bytes_per_listener_per_s": sum(e.bytes for e in ears) / heard_s if heard_s else 0.0,
        "cpu_s_per_utterance": cpu,
        "first_audio_p50_ms": percentile(lags, 50) * 1000,
    }


async def recognition(server: Server) -> dict[str, list[list[str]]]:
    """(reference, what was heard) of the same speech streamed as PCM and as Ogg Opus at 16
    and 24 kbit/s."""
    heard: dict[str, list[list[str]]] = {"pcm": [], "opus16": [], "opus24": []}
    async with Connection(server.address) as parley:
        for language, texts in SENTENCES.items():
            spoken_by = voices(language)
            for i, text in enumerate(texts):
                speech = np.concatenate([silence(0.2), say(text, spoken_by[i % len(spoken_by)])])
                speech = np.concatenate([speech, silence(1.0)])
                clips = {
                    "pcm": ((np.clip(speech, -1, 1) * 32767).astype("<i2").tobytes(), PCM),
                    "opus16": (encode(speech, "ogg_opus", bitrate=16_000), OPUS),
                    "opus24": (encode(speech, "ogg_opus", bitrate=24_000), OPUS),
                }
                for name, (data, fmt) in clips.items():
                    results = await parley.stt.recognize_encoded(data, fmt, language)
                    heard[name].append([text, " ".join(r.text for r in results)])
    return heard


def wer_of(report: dict) -> dict[str, float]:
    """WER per input (all the sentences' errors over all their reference words)."""
    return {name: corpus_wer(pairs) for name, pairs in report["heard"].items()}


def mean_utterance_wer(report: dict) -> dict[str, float]:
    """The mean of each sentence's own WER, where a 3-word sentence weighs as a 25-word one."""
    return {
        name: statistics.mean(wer(r, h) for r, h in pairs)
        for name, pairs in report["heard"].items()
    }


async def run() -> dict:
    server = Server("whisper-base")
    try:
        await server.ready()
        lines = await make_lines(server.address)
        rooms = []
        for listeners in LISTENERS:
            for fmt in ("pcm", "opus", "pcm", "opus"):  # alternating, twice each
                print(f"  {listeners} listeners, {fmt}", flush=True)
                rooms.append(await room_run(server, lines, listeners, fmt))
        print("  recognition of Opus input", flush=True)
        heard = await recognition(server)
    finally:
        server.stop()
    return {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.node()}: {platform.machine()}, {os.cpu_count()} cores",
        "rooms": rooms,
        "heard": heard,
    }


def _mean(rows: list[dict], listeners: int, fmt: str, key: str) -> float:
    return statistics.mean(
        r[key] for r in rows if r["listeners"] == listeners and r["format"] == fmt
    )


def verdicts(report: dict) -> list[tuple[str, float, float, bool]]:
    rows, found = report["rooms"], []
    ratio = _mean(rows, 3, "opus", "bytes_per_listener_per_s") / _mean(
        rows, 3, "pcm", "bytes_per_listener_per_s"
    )
    found.append(("bytes per listener, Opus/PCM", ratio, TARGETS["bytes_ratio"],
                  ratio <= TARGETS["bytes_ratio"]))  # fmt: skip
    cpu = _mean(rows, 200, "opus", "cpu_s_per_utterance") / _mean(
        rows, 200, "pcm", "cpu_s_per_utterance"
    )
    found.append(("CPU per utterance at 200 listeners, Opus/PCM", cpu, TARGETS["cpu_ratio_200"],
                  cpu <= TARGETS["cpu_ratio_200"]))  # fmt: skip
    scores = wer_of(report)
    for name in ("opus16", "opus24"):
        margin = scores[name] - scores["pcm"]
        found.append((f"WER {name} - PCM", margin, TARGETS["wer_margin"],
                      margin <= TARGETS["wer_margin"]))  # fmt: skip
    later = _mean(rows, 3, "opus", "first_audio_p50_ms") - _mean(
        rows, 3, "pcm", "first_audio_p50_ms"
    )
    found.append(("first audio p50, Opus - PCM (ms), 3 listeners", later,
                  TARGETS["first_audio_ms"], later <= TARGETS["first_audio_ms"]))  # fmt: skip
    return found


def markdown(report: dict) -> list[str]:
    """The docs/benchmarks.md section."""
    out = [
        "## Opus output and input",
        "",
        f"From `python -m bench.opus`, {report['when']}, on {report['machine']}: one English",
        "speaker, listeners in es, fr and it asking for 16 kHz LINEAR16 or Ogg Opus at",
        "24 kbit/s (runs alternating, two of each); bytes are what a listener receives per",
        "second of translated speech; CPU is the server's per utterance; first audio is from",
        "the end of speech to the first chunk at the listener.",
        "",
        "| listeners | format | bytes per s | CPU s per utterance | first audio p50 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for listeners in LISTENERS:
        for fmt in ("pcm", "opus"):
            out.append(
                f"| {listeners} | {fmt} | "
                f"{_mean(report['rooms'], listeners, fmt, 'bytes_per_listener_per_s'):,.0f} | "
                f"{_mean(report['rooms'], listeners, fmt, 'cpu_s_per_utterance'):.2f} | "
                f"{_mean(report['rooms'], listeners, fmt, 'first_audio_p50_ms'):.0f} ms |"
            )
    w, m = wer_of(report), mean_utterance_wer(report)
    out += [
        "",
        f"Recognition (Whisper base, {len(report['heard']['pcm'])} sentences in five languages, "
        f"several voices): WER {w['pcm']:.3f} in PCM, {w['opus24']:.3f} in Ogg Opus at "
        f"24 kbit/s, {w['opus16']:.3f} at 16 kbit/s (encoded for speech, as WebRTC does). WER "
        "is every error over every reference word; the mean of each sentence's own WER, where "
        "a three-word greeting weighs as much as a 25-word sentence, is "
        f"{m['pcm']:.3f}, {m['opus24']:.3f} and {m['opus16']:.3f}.",
        "",
        "| target | value | limit | result |",
        "| --- | --- | --- | --- |",
    ]
    for name, value, limit, ok in verdicts(report):
        out.append(f"| {name} | {value:.3f} | {limit} | {'PASS' if ok else 'FAIL'} |")
    return [*out, ""]


def main() -> int:
    report = asyncio.run(run())
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "opus.json").write_text(json.dumps(report, indent=1))
    print("\n".join(markdown(report)))
    return 0 if all(ok for *_, ok in verdicts(report)) else 1


if __name__ == "__main__":
    sys.exit(main())
