"""``python -m bench``: the room benchmark of docs/benchmarks.md, with PASS/FAIL per target.

Runs `parley serve` (Whisper base, then tiny.en), measures what a listener feels, writes
bench/results/latest.json and the plots in docs/. ``--quick`` runs one pass of each scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
from pathlib import Path

from bench.room import LISTEN, Listener, Server, make_lines, percentile, speak
from parley_client import Connection

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"base_p50_s": 1.2, "tiny_p50_s": 0.8, "fanout_cpu_ratio": 1.10, "spread_p99_ms": 50.0}
TARGETS["rss_mb"] = 1500.0
LANGS = ("es", "fr", "it")


async def _wait(listeners, speaker_id: str, count: int, within_s: float = 30.0) -> None:
    deadline = time.perf_counter() + within_s
    while time.perf_counter() < deadline:
        if all(
            len(got := lst.by_speaker.get(speaker_id, [])) >= count
            and got[count - 1].first_audio is not None
            for lst in listeners
        ):
            return
        await asyncio.sleep(0.05)


async def latency(address: str, lines, languages, rounds: int) -> list[dict]:
    """One speaker, one listener per other language; every line, ``rounds`` times."""
    rows = []
    async with Connection(address) as parley:
        for language in languages:
            room = (await parley.rooms.create()).room.room_id
            speaker = parley.rooms.join(room, "Speaker", language, language)
            listeners = [
                Listener(parley.rooms.join(room, f"L-{to}", to, captions_only=False))
                for to in LISTEN[language]
            ]
            speaking = Listener(speaker)
            await asyncio.sleep(1.0)
            said = 0
            for _ in range(rounds):
                for line in lines[language]:
                    ended = await speak(speaker, line)
                    said += 1
                    await _wait(listeners, speaker.participant_id, said)
                    for lst in listeners:
                        got = lst.by_speaker.get(speaker.participant_id, [])
                        if len(got) < said or got[said - 1].first_audio is None:
                            continue
                        r = got[said - 1]
                        total = r.first_audio - ended
                        stages = r.timings
                        rows.append(
                            {
                                "language": language,
                                "speech_s": line.speech_s,
                                "first_audio_s": total,
                                "caption_s": r.caption - ended,
                                **stages,
                                "delivery": max(0.0, total - sum(stages.values())),
                            }
                        )
            for session in (speaker, *(lst.session for lst in listeners)):
                session.leave()
            speaking.task.cancel()
    return rows


async def fanout(server: Server, lines, sizes, utterances: int) -> list[dict]:
    """One English speaker, N listeners spread over es, fr and it."""
    results = []
    async with Connection(server.address) as parley:
        for size in sizes:
            room = (await parley.rooms.create()).room.room_id
            speaker = parley.rooms.join(room, "Speaker", "en", "en")
            own = Listener(speaker)
            listeners = [
                Listener(parley.rooms.join(room, f"L{i}", LANGS[i % 3])) for i in range(size)
            ]
            await asyncio.sleep(1.0 + size / 100)
            cpu0 = server.cpu_seconds()
            spreads, within = [], []
            for k, line in enumerate(lines["en"][1 : 1 + utterances], start=1):
                await speak(speaker, line)
                await _wait(listeners, speaker.participant_id, k, within_s=60)
                groups: dict[str, list[float]] = {}
                for i, lst in enumerate(listeners):
                    got = lst.by_speaker.get(speaker.participant_id, [])
                    if len(got) >= k and got[k - 1].first_audio is not None:
                        groups.setdefault(LANGS[i % 3], []).append(got[k - 1].first_audio)
                firsts = [f for group in groups.values() for f in group]
                # Across every listener, whatever their language...
                spreads.append((max(firsts) - min(firsts)) * 1000 if len(firsts) > 1 else 0.0)
                # ...and among the listeners of one language, who share one synthesis.
                within.append(max((max(g) - min(g)) * 1000 for g in groups.values()))
            cpu = (server.cpu_seconds() - cpu0) / utterances
            results.append(
                {
                    "listeners": size,
                    "cpu_s_per_utterance": cpu,
                    "spread_p99_ms": percentile(spreads, 99),
                    "spread_within_language_p99_ms": percentile(within, 99),
                }
            )
            for session in (speaker, *(lst.session for lst in listeners)):
                session.leave()
            own.task.cancel()
            await asyncio.sleep(1.0)
    return results


async def concurrent(address: str, lines, counts) -> list[dict]:
    """k people speaking at once (English), one Spanish listener."""
    results = []
    async with Connection(address) as parley:
        for count in counts:
            room = (await parley.rooms.create()).room.room_id
            speakers = [parley.rooms.join(room, f"S{i}", "en", "en") for i in range(count)]
            listener = Listener(parley.rooms.join(room, "Luis", "es"))
            watchers = [Listener(s) for s in speakers]
            await asyncio.sleep(1.0)
            line = lines["en"][2]
            ends = await asyncio.gather(*(speak(s, line) for s in speakers))
            await asyncio.sleep(0.1)
            lags = []
            for s, ended in zip(speakers, ends, strict=True):
                await _wait([listener], s.participant_id, 1, within_s=60)
                got = listener.by_speaker.get(s.participant_id, [])
                if got and got[0].first_audio:
                    lags.append(got[0].first_audio - ended)
            results.append(
                {"speakers": count, "p50_s": statistics.median(lags), "max_s": max(lags)}
            )
            for s in (*speakers, listener.session):
                s.leave()
            for w in watchers:
                w.task.cancel()
    return results


def _summarise(rows: list[dict]) -> dict:
    short = [r for r in rows if r["speech_s"] <= 5.0]
    stage = {k: statistics.median(r[k] for r in short) for k in
             ("endpointing", "recognition", "translation", "synthesis", "delivery")}  # fmt: skip
    return {
        "deliveries": len(rows),
        "first_audio_p50_s": percentile([r["first_audio_s"] for r in short], 50),
        "first_audio_p95_s": percentile([r["first_audio_s"] for r in short], 95),
        "caption_p50_s": percentile([r["caption_s"] for r in short], 50),
        "stages_p50_s": stage,
    }


async def run(quick: bool) -> dict:
    rounds = 1 if quick else 2
    report: dict = {
        "machine": f"{platform.node()}: {platform.processor() or platform.machine()}, "
        f"{__import__('os').cpu_count()} cores",
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "models": {},
    }
    for model, languages in (("whisper-base", ("en", "es")), ("whisper-tiny.en", ("en",))):
        server = Server(model)
        try:
            await server.ready()
            lines = await make_lines(server.address)
            await latency(server.address, lines, languages, 1)  # warm-up
            rows = await latency(server.address, lines, languages, rounds)
            report["models"][model] = _summarise(rows) | {"rows": rows}
            if model == "whisper-base":
                report["rss_mb"] = server.rss_mb()
                sizes = [1, 3, 10, 50, 200] if not quick else [3, 50]
                report["fanout"] = await fanout(server, lines, sizes, 2 if quick else 3)
                report["concurrent"] = await concurrent(server.address, lines, [1, 2, 4])
        finally:
            server.stop()
    return report


def verdicts(report: dict) -> list[tuple[str, float, float, bool]]:
    base = report["models"]["whisper-base"]["first_audio_p50_s"]
    tiny = report["models"]["whisper-tiny.en"]["first_audio_p50_s"]
    fan = {f["listeners"]: f for f in report["fanout"]}
    ratio = fan[max(fan)]["cpu_s_per_utterance"] / fan[3]["cpu_s_per_utterance"]
    spread = max(f["spread_p99_ms"] for f in report["fanout"])
    within = max(f["spread_within_language_p99_ms"] for f in report["fanout"])
    return [
        ("end of speech -> first audio p50, base (s)", base, TARGETS["base_p50_s"], base <= 1.2),
        ("end of speech -> first audio p50, tiny.en (s)", tiny, TARGETS["tiny_p50_s"], tiny <= 0.8),
        (f"CPU per utterance, {max(fan)} vs 3 listeners", ratio, 1.10, ratio <= 1.10),
        ("first-to-last listener spread p99 (ms)", spread, 50.0, spread <= 50.0),
        ("  the same within one language (ms)", within, 50.0, within <= 50.0),
        ("parley serve RSS after warm-up (MB)", report["rss_mb"], 1500.0, report["rss_mb"] <= 1500),
    ]


def print_report(report: dict) -> None:
    print(f"machine: {report['machine']}  ({report['when']})")
    print(f"\n{'model':<17}{'n':>4}{'audio p50':>11}{'p95':>7}{'caption p50':>13}   stages p50 (s)")
    for model, m in report["models"].items():
        stages = "  ".join(f"{k} {v:.2f}" for k, v in m["stages_p50_s"].items())
        print(
            f"{model:<17}{m['deliveries']:>4}{m['first_audio_p50_s']:>11.2f}"
            f"{m['first_audio_p95_s']:>7.2f}{m['caption_p50_s']:>13.2f}   {stages}"
        )
    print(f"\n{'listeners':>10}{'CPU s/utterance':>17}{'spread p99 ms':>15}{'in a language':>15}")
    for f in report["fanout"]:
        print(
            f"{f['listeners']:>10}{f['cpu_s_per_utterance']:>17.2f}{f['spread_p99_ms']:>15.1f}"
            f"{f['spread_within_language_p99_ms']:>15.1f}"
        )
    print(f"\n{'speakers':>10}{'p50 s':>8}{'max s':>8}")
    for c in report["concurrent"]:
        print(f"{c['speakers']:>10}{c['p50_s']:>8.2f}{c['max_s']:>8.2f}")
    print()
    for name, value, target, ok in verdicts(report):
        print(f"{name:<48}{value:>9.2f}  target {target:<7} {'PASS' if ok else 'FAIL'}")


def plot(report: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    models = list(report["models"])
    bottom = [0.0] * len(models)
    for stage in ("endpointing", "recognition", "translation", "synthesis", "delivery"):
        values = [report["models"][m]["stages_p50_s"][stage] for m in models]
        left.bar(models, values, bottom=bottom, label=stage)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    left.set_ylabel("seconds (p50)")
    left.set_title("end of speech -> first translated audio, by stage")
    left.legend(fontsize=8)
    sizes = [f["listeners"] for f in report["fanout"]]
    right.plot(sizes, [f["cpu_s_per_utterance"] for f in report["fanout"]], "o-")
    right.set_xscale("log")
    right.set_xticks(sizes, labels=[str(s) for s in sizes])
    right.minorticks_off()
    right.set_ylim(bottom=0)
    right.set_xlabel("listeners (3 languages)")
    right.set_ylabel("server CPU seconds per utterance")
    right.set_title("fan-out scaling")
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def write_markdown(report: dict, path: Path) -> None:
    """docs/benchmarks.md from the report, so the document always shows the latest run."""
    out = [
        "# Benchmarks",
        "",
        "Written by `python -m bench` (the room benchmark, through a real `parley serve` on",
        "loopback), from its latest run: " + report["when"] + ", on " + report["machine"] + ".",
        "Speech is generated for the purpose by the server's own voices: sentences of 1 to 8 s",
        "by English and Spanish speakers, streamed in real time in 100 ms chunks; each speaker",
        "has one listener in each of three other languages (es, fr, it or en, fr, it).",
        "",
        "![latency per stage and fan-out scaling](benchmarks.png)",
        "",
        "## End of speech -> first translated audio at the listener",
        "",
        "Utterances up to 5 s. Stages are the server's own timings (UtteranceAudioBegin):",
        "endpointing is the silence that confirms the end of speech (500 ms, recognition starts",
        "after 200 ms of it), recognition is from that confirmation to the final transcript,",
        "delivery is what remains of the lag measured at the listener.",
        "",
        "| model | deliveries | first audio p50 | p95 | final caption p50 | endpointing |"
        " recognition | translation | synthesis | delivery |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for model, m in report["models"].items():
        s = m["stages_p50_s"]
        out.append(
            f"| {model} | {m['deliveries']} | {m['first_audio_p50_s']:.2f} s | "
            f"{m['first_audio_p95_s']:.2f} s | {m['caption_p50_s']:.2f} s | "
            + " | ".join(
                f"{s[k]:.2f} s"
                for k in ("endpointing", "recognition", "translation", "synthesis", "delivery")
            )  # fmt: skip
            + " |"
        )
    out += [
        "",
        "## Fan-out",
        "",
        "One English speaker, N listeners spread over es, fr and it. CPU is the server",
        "process's user+system time per utterance (recognition, translation, synthesis and",
        "delivery together); the spread is between the first and the last listener to get the",
        "first audio chunk of an utterance (p99 over the utterances).",
        "",
        "| listeners | CPU s per utterance | spread p99, all listeners | within one language |",
        "| --- | --- | --- | --- |",
        *(
            f"| {f['listeners']} | {f['cpu_s_per_utterance']:.2f} | {f['spread_p99_ms']:.1f} ms | "
            f"{f['spread_within_language_p99_ms']:.1f} ms |"
            for f in report["fanout"]
        ),
        "",
        "Listeners of one language share one synthesis and get each chunk within a few",
        "milliseconds of each other, whatever their number. Most of the spread across all",
        "listeners is between languages: the three syntheses start together after the one",
        "translation call and reach their first chunk tens of milliseconds, sometimes over",
        "100 ms, apart on two cores (Pico's first chunk takes 15-20 ms alone; three at once,",
        "beside a Whisper call using both cores, take longer and vary from run to run). That",
        "part is synthesis scheduling, not fan-out: the target fails on it, and it would shrink",
        "with a core per language or by starting the syntheses one after another in order of",
        "listeners.",
        "",
        "## People speaking at once",
        "",
        "k English speakers start the same sentence together; one Spanish listener.",
        "",
        "| speakers | first audio p50 | max |",
        "| --- | --- | --- |",
        *(
            f"| {c['speakers']} | {c['p50_s']:.2f} s | {c['max_s']:.2f} s |"
            for c in report["concurrent"]
        ),
        "",
        f"Resident memory of `parley serve` after warm-up: {report['rss_mb']:.0f} MB.",
        "",
        "## Targets",
        "",
        "| measure | value | target | result |",
        "| --- | --- | --- | --- |",
        *(
            f"| {name} | {value:.2f} | {target} | {'PASS' if ok else 'FAIL'} |"
            for name, value, target, ok in verdicts(report)
        ),
        "",
        "The machine is shared: three runs on the same day gave a base p50 between 1.05 and",
        "1.20 s and a 200-vs-3 listener CPU ratio between 1.02 and 1.18. Compare ratios within",
        "one run.",
        "",
        "Published systems for comparison: Meta's SeamlessStreaming reports about 2 s of",
        "latency and ufal's whisper_streaming 3.3 s, both on GPUs.",
        "",
        "## What makes it fast, and what bounds it",
        "",
        "- Recognition starts after 200 ms of silence instead of the full 500 ms endpointing",
        "  silence; the result is kept only if the silence is confirmed (`PARLEY_STT_EARLY_MS`).",
        "  So most of the recognition time hides inside the endpointing wait: what remains is",
        "  the 'recognition' stage above.",
        "- Language detection reuses the encoder pass of the transcription (one encoding per",
        "  utterance, not two); partial hypotheses wait behind final ones and none starts once",
        "  silence has begun.",
        "- Models load in the background as soon as the server is serving, so the first",
        "  utterance does not pay for loading.",
        "- Translation is one call for every listener language; Apertium answers in 2-3 ms from",
        "  long-lived pipelines. Synthesis is one stream per language, sentence by sentence, and",
        "  Pico's first chunk comes in 15-20 ms. Each chunk is queued to every listener of its",
        "  language as it arrives.",
        "- The floor is the endpointing silence itself (500 ms, configurable per stream):",
        "  shortening it cuts sentences at commas. Whisper base on two cores needs 0.7-1.0 s per",
        "  utterance, of which 0.3-0.5 s remains after the early start.",
        "- Several people speaking at once queue on one recognition worker per model (Whisper",
        "  already uses both cores for one utterance), so latency grows with the number of",
        "  simultaneous speakers. Batching utterances of several speakers into one Whisper call",
        "  is the next step; it is not done yet.",
        "",
    ]
    path.write_text("\n".join(out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one pass of each scenario")
    args = parser.parse_args()
    report = asyncio.run(run(args.quick))
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "latest.json").write_text(json.dumps(report, indent=2))
    print_report(report)
    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    plot(report, docs / "benchmarks.png")
    write_markdown(report, docs / "benchmarks.md")
    return 0 if all(ok for *_, ok in verdicts(report)) else 1


if __name__ == "__main__":
    sys.exit(main())
