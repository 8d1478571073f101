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

from bench import monologue
from bench.capacity import capacity, clips
from bench.opus import markdown as opus_markdown
from bench.room import LISTEN, Listener, Server, make_lines, percentile, speak
from bench.stt_window import stt_window_markdown
from bench.turn import turn_markdown
from parley_client import Connection

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# Each latency and capacity target compares the two configurations measured in the same run.
TARGETS = {"base_ratio": 0.55, "tiny_ratio": 0.7, "capacity_ratio": 3.0, "fanout_cpu_ratio": 1.10,
           "spread_p99_ms": 50.0, "rss_mb": 1500.0}  # fmt: skip
BEFORE, AFTER, WINDOW = "before", "after", "window"
# before: Whisper's full 30 s window, greedy decoding, silence-only endpointing, one final per
# utterance (the first version); window: the fitted window, one final per utterance; after: the
# defaults (the fitted window, each sentence final while the speaker goes on).
CONFIGS = {
    BEFORE: {
        "PARLEY_STT_WINDOW": "full",
        "PARLEY_STT_BEAM_SIZE": "1",
        "PARLEY_STT_TURN": "off",
        "PARLEY_STT_COMMIT": "utterance",
    },
    WINDOW: {"PARLEY_STT_COMMIT": "utterance"},
    AFTER: {},
}
MONOLOGUE = {"lag_p50_s": 2.0, "lag_p95_s": 3.5, "heard_until_s": 4.0, "wer_margin": 0.02,
             "pause_margin_s": 0.1}  # fmt: skip
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
            room = (await parley.rooms.create(open_room=True)).room.room_id
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


async def fanout(
    server: Server, lines, sizes, utterances: int, languages: tuple[str, ...] = LANGS
) -> list[dict]:
    """One English speaker, N listeners spread over ``languages`` (es, fr and it)."""
    results = []
    async with Connection(server.address) as parley:
        for size in sizes:
            room = (await parley.rooms.create(open_room=True)).room.room_id
            speaker = parley.rooms.join(room, "Speaker", "en", "en")
            own = Listener(speaker)
            heard = [languages[i % len(languages)] for i in range(size)]
            listeners = [Listener(parley.rooms.join(room, f"L{i}", heard[i])) for i in range(size)]
            await asyncio.sleep(1.0 + size / 100)
            cpu0 = server.cpu_seconds()
            spreads, within, firsts_ms, gaps = [], [], [], []
            for k, line in enumerate(lines["en"][1 : 1 + utterances], start=1):
                await speak(speaker, line)
                await _wait(listeners, speaker.participant_id, k, within_s=60)
                groups: dict[str, list[float]] = {}
                synthesis: dict[str, float] = {}  # the server's own first-chunk time
                for i, lst in enumerate(listeners):
                    got = lst.by_speaker.get(speaker.participant_id, [])
                    if len(got) >= k and got[k - 1].first_audio is not None:
                        groups.setdefault(heard[i], []).append(got[k - 1].first_audio)
                        if "synthesis" in got[k - 1].timings:
                            synthesis[heard[i]] = got[k - 1].timings["synthesis"] * 1000
                firsts_ms.extend(synthesis.values())
                if synthesis:
                    gaps.append(max(synthesis.values()) - min(synthesis.values()))
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
                    "synthesis_first_chunk_p50_ms": percentile(firsts_ms, 50),
                    "synthesis_gap_p50_ms": percentile(gaps, 50),
                    "synthesis_gap_p99_ms": percentile(gaps, 99),
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
            room = (await parley.rooms.create(open_room=True)).room.room_id
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
        "configs": CONFIGS,
        "models": {},
    }
    for model, languages in (("whisper-base", ("en", "es")), ("whisper-tiny.en", ("en",))):
        # Both configurations run at once, idle in turn: their rounds alternate, so that the
        # machine's other load falls on both alike.
        servers = {name: Server(model, env) for name, env in CONFIGS.items()}
        try:
            for server in servers.values():
                await server.ready()
            lines = await make_lines(servers[AFTER].address)
            rows: dict[str, list[dict]] = {name: [] for name in servers}
            for server in servers.values():
                await latency(server.address, lines, languages, 1)  # warm-up
            for _ in range(rounds):
                for name, server in servers.items():
                    rows[name] += await latency(server.address, lines, languages, 1)
            report["models"][model] = {
                name: _summarise(found) | {"rows": found} for name, found in rows.items()
            }
            if model == "whisper-base":
                after = servers[AFTER]
                report["rss_mb"] = after.rss_mb()
                sizes = [1, 3, 10, 50, 200] if not quick else [3, 50]
                report["fanout"] = await fanout(after, lines, sizes, 2 if quick else 3)
                # The same room with every listener in one language (one synthesis): what
                # delivering to that many listeners costs alone.
                report["fanout_one_language"] = await fanout(
                    after, lines, [max(sizes)], 2 if quick else 3, languages=("es",)
                )
                report["concurrent"] = await concurrent(after.address, lines, [1, 2, 4])
                report["monologues"] = await monologues_both_ways(servers)
                talk = clips()
                report["capacity"] = {}
                for name in (BEFORE, AFTER):
                    print(f"  capacity, {name}:", flush=True)
                    report["capacity"][name] = await capacity(
                        servers[name].address, talk, seconds=20.0 if quick else 40.0
                    )
        finally:
            for server in servers.values():
                server.stop()
    return report


async def monologues_both_ways(servers: dict[str, Server]) -> dict:
    """Every monologue through the default server (sentences final as they come) and the
    one that waits for the end of each utterance, alternating; and a whole-clip recognition."""
    rows: dict[str, list[dict]] = {AFTER: [], WINDOW: []}
    clip_wers = []
    for m in monologue.monologues():
        for name in (AFTER, WINDOW):
            print(f"  monologue {m.voice.label} ({m.ends_s[-1]:.0f} s), {name}", flush=True)
            rows[name].append(await monologue.run_one(servers[name], m))
        clip_wers.append(await monologue.whole_clip_wer(servers[WINDOW], m))
    found = {name: monologue.summary(found) for name, found in rows.items()}
    found["whole_clip_wer"] = float(sum(clip_wers) / len(clip_wers))
    return found


def _ratio(report: dict, model: str) -> float:
    m = report["models"][model]
    return m[AFTER]["first_audio_p50_s"] / m[BEFORE]["first_audio_p50_s"]


def verdicts(report: dict) -> list[tuple[str, float, float, bool]]:
    base, tiny = _ratio(report, "whisper-base"), _ratio(report, "whisper-tiny.en")
    held = {name: c["people"] for name, c in report["capacity"].items()}
    more = held[AFTER] / max(held[BEFORE], 1)
    fan = {f["listeners"]: f for f in report["fanout"]}
    ratio = fan[max(fan)]["cpu_s_per_utterance"] / fan[3]["cpu_s_per_utterance"]
    spread = max(f["spread_p99_ms"] for f in report["fanout"])
    within = max(f["spread_within_language_p99_ms"] for f in report["fanout"])
    t, mono = TARGETS, report["monologues"]
    talk = mono[AFTER]
    by_config = report["models"]["whisper-base"]
    paused = by_config[AFTER]["first_audio_p50_s"] - by_config[WINDOW]["first_audio_p50_s"]
    wer_over = talk["wer"] - mono["whole_clip_wer"]
    return [
        ("first audio p50, base, after/before", base, t["base_ratio"], base <= t["base_ratio"]),
        ("first audio p50, tiny.en, after/before", tiny, t["tiny_ratio"], tiny <= t["tiny_ratio"]),
        ("people one server holds, after/before", more, t["capacity_ratio"],
         more >= t["capacity_ratio"]),
        (f"CPU per utterance, {max(fan)} vs 3 listeners", ratio, t["fanout_cpu_ratio"],
         ratio <= t["fanout_cpu_ratio"]),
        ("first-to-last listener spread p99 (ms)", spread, t["spread_p99_ms"],
         spread <= t["spread_p99_ms"]),
        ("  the same within one language (ms)", within, t["spread_p99_ms"],
         within <= t["spread_p99_ms"]),
        ("parley serve RSS after warm-up (MB)", report["rss_mb"], t["rss_mb"],
         report["rss_mb"] <= t["rss_mb"]),
        ("monologue: sentence end -> first audio p50 (s)", talk["lag_p50_s"],
         MONOLOGUE["lag_p50_s"], talk["lag_p50_s"] <= MONOLOGUE["lag_p50_s"]),
        ("monologue: sentence end -> first audio p95 (s)", talk["lag_p95_s"],
         MONOLOGUE["lag_p95_s"], talk["lag_p95_s"] <= MONOLOGUE["lag_p95_s"]),
        ("monologue: heard until, after the speaker (s)", talk["heard_until_max_s"],
         MONOLOGUE["heard_until_s"], talk["heard_until_max_s"] <= MONOLOGUE["heard_until_s"]),
        ("monologue: WER joined - WER whole clip", wer_over, MONOLOGUE["wer_margin"],
         wer_over <= MONOLOGUE["wer_margin"]),
        ("pauses: first audio p50, after - window (s)", paused, MONOLOGUE["pause_margin_s"],
         paused <= MONOLOGUE["pause_margin_s"]),
    ]  # fmt: skip


def bounds(report: dict) -> list[str]:
    """For each target this run failed, what its profile shows bounds it."""
    found = []
    fan = {f["listeners"]: f for f in report["fanout"]}
    widest = fan[max(fan)]
    one = report.get("fanout_one_language", [])
    for index, (name, value, _target, ok) in enumerate(verdicts(report)):
        if ok:
            continue
        if index in (0, 1):
            model = report["models"]["whisper-base" if index == 0 else "whisper-tiny.en"]
            st = model[AFTER]["stages_p50_s"]
            rest = st["translation"] + st["synthesis"] + st["delivery"]
            found.append(
                f"- {name.strip()}: {value:.2f}. After the change, of the p50 the endpointing "
                f"silence is {st['endpointing']:.2f} s and recognition {st['recognition']:.2f} s "
                f"(what remains of the Whisper call after the early start), while translation, "
                f"synthesis to the first chunk and delivery take {rest * 1000:.0f} ms together: "
                "the endpointing silence is the floor. Before, recognition took "
                f"{model[BEFORE]['stages_p50_s']['recognition']:.2f} s after the same silence; "
                "the faster a machine decodes the full window, the closer the ratio to 1."
            )
        elif index == 2:
            over = [x for x in report["capacity"][AFTER]["steps"] if x["lag_p95_s"] >= 2.0]
            first = min(over, key=lambda x: x["people"]) if over else None
            before = report["capacity"][BEFORE]["people"]
            found.append(
                f"- {name.strip()}: {value:.2f}. "
                + (f"With the defaults the lag passed 2 s at {first['people']} people (p50 "
                   f"{first['lag_p50_s']:.2f} s): one Whisper worker on two cores, shared with "
                   "voice activity detection of every stream. " if first else "")
                + f"The first version held {before}: the faster the machine decodes a full "
                "window, the more it holds, and the smaller the ratio."
            )  # fmt: skip
        elif index == 3:
            extra = widest["cpu_s_per_utterance"] - fan[3]["cpu_s_per_utterance"]
            found.append(
                f"- {name.strip()}: {value:.2f}. The {extra:.2f} s of CPU per utterance that "
                f"{max(fan)} listeners add over 3 is the delivery: each chunk is serialized once "
                "per language, but written to every listener's stream through gRPC and the "
                "event loop (some 40-60 µs of CPU per message and listener). The ratio grew "
                "because the rest shrank: with the fitted window an utterance of 3 listeners "
                f"costs {fan[3]['cpu_s_per_utterance']:.2f} s of CPU, where the full window's "
                "cost about 3 s, while what 197 more listeners add did not change (0.3-0.6 s)."
            )
        elif index == 4:
            gap = widest.get("synthesis_gap_p99_ms", float("nan"))
            alone = f"{one[0]['spread_p99_ms']:.1f} ms" if one else "-"
            found.append(
                f"- {name.strip()}: {value:.1f}. See Fan-out: the gap between the three "
                f"languages' first chunks ({gap:.1f} ms p99 at {max(fan)} listeners in this "
                f"run: three syntheses, the event loop and the benchmark client on two cores) "
                f"plus delivering to {max(fan)} listeners ({alone} with one language)."
            )
        elif index == 5:
            found.append(
                f"- {name.strip()}: {value:.1f}. Delivery to every listener from one event loop "
                "(see Fan-out)."
            )
        elif index == 6:
            found.append(f"- {name.strip()}: {value:.0f}. The models and voices loaded.")
        else:
            talk = report["monologues"][AFTER]
            voices = ", ".join(
                f"{r['voice']} {percentile([x for x in r['lags_s'] if x == x], 50):.1f} s "
                f"(WER {r['wer']:.2f}, heard until {r['heard_until_s']:.1f} s)"
                for r in talk["rows"]
            )
            found.append(
                f"- {name.strip()}: {value:.2f}. Per voice, lag p50: {voices}. A piece is "
                "final once two decodes, 0.7 s of speech apart, agree on it and on where it "
                "ends (a sentence or clause end, or a pause heard after it): where a voice is "
                "recognised unsurely, consecutive decodes disagree on the words, and they wait "
                "until two decodes end a clause alike at the same moment, or for the 15 s cut; "
                f"{talk['never_heard']} sentence(s) were never matched to a segment. Every "
                "decode of a speaker's unfinished utterance costs 0.3-0.5 s of both cores, so "
                "on this machine one monologue keeps the server busy most of the time. Heard "
                "until is what the listener still has queued when the speaker stops (about the "
                "0.75 s catch-up bound while the cap leaves slack), plus the last piece: from "
                "the arrival of its first audio, 0.6-1.2 s after the speaker stopped, to its "
                "end. The scripts end "
                'with a long sentence whose last clause is cut before its openers ("and then '
                'play football" | "until dinner is ready") where two decodes agree in time; '
                "when they do not, it is final only when the speaker stops, and its translation "
                "plays for 2-3.5 s even at 1.75x. The Spanish translation of Piper's English, "
                "spoken by Pico, takes 1.7-1.8 times the English speech's time (the room's own "
                "estimate over a monologue's pieces, logged at debug level), about all the "
                "1.75x cap gives back: that listener hears without a gap from the first piece "
                "on and still has 2-3 s queued when the speaker stops. The figure varies from "
                "run to run with the moments decodes happen to agree (Piper's monologue "
                "3.4-7.3 s in twelve runs of nearly the same code; espeak-ng's Spanish, which "
                "Whisper mishears, 3.1-11.6 s; its English listener hears Piper, which since "
                "2026-12-04 speaks at the rate the room asks for instead of 1.49x at 1.75x)."
            )
    return found


def print_report(report: dict) -> None:
    print(f"machine: {report['machine']}  ({report['when']})")
    print(
        f"\n{'model':<17}{'config':<8}{'n':>4}{'audio p50':>11}{'p95':>7}{'caption p50':>13}"
        "   stages p50 (s)"
    )
    for model, by_config in report["models"].items():
        for name, m in by_config.items():
            stages = "  ".join(f"{k} {v:.2f}" for k, v in m["stages_p50_s"].items())
            print(
                f"{model:<17}{name:<8}{m['deliveries']:>4}{m['first_audio_p50_s']:>11.2f}"
                f"{m['first_audio_p95_s']:>7.2f}{m['caption_p50_s']:>13.2f}   {stages}"
            )
    clip = report["monologues"]["whole_clip_wer"]
    print(
        f"\n{'monologues':<10}{'lag p50':>9}{'p95':>7}{'missed':>8}{'heard until':>13}"
        f"{'CPU/min':>9}{'WER':>7}   whole clip WER {clip:.3f}"
    )
    for name in (AFTER, WINDOW):
        m = report["monologues"][name]
        print(
            f"{name:<10}{m['lag_p50_s']:>9.2f}{m['lag_p95_s']:>7.2f}{m['never_heard']:>8}"
            f"{m['heard_until_max_s']:>13.2f}{m['cpu_s_per_min']:>9.1f}{m['wer']:>7.3f}"
        )
    print(f"\n{'capacity':<10}{'people':>8}   lag p95 per step")
    for name, c in report["capacity"].items():
        steps = ", ".join(f"{x['people']}: {x['lag_p95_s']:.2f} s" for x in c["steps"])
        print(f"{name:<10}{c['people']:>8}   {steps}")
    print(
        f"\n{'listeners':>10}{'CPU s/utterance':>17}{'spread p99 ms':>15}{'in a language':>15}"
        f"{'1st chunk p50':>15}{'lang gap p99':>14}"
    )
    for f in (*report["fanout"], *report.get("fanout_one_language", [])):
        print(
            f"{f['listeners']:>10}{f['cpu_s_per_utterance']:>17.2f}{f['spread_p99_ms']:>15.1f}"
            f"{f['spread_within_language_p99_ms']:>15.1f}"
            f"{f.get('synthesis_first_chunk_p50_ms', float('nan')):>15.1f}"
            f"{f.get('synthesis_gap_p99_ms', float('nan')):>14.1f}"
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

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4))
    bars = [(m, c) for m, by_config in report["models"].items() for c in by_config]
    labels = [f"{m.removeprefix('whisper-')}\n{c}" for m, c in bars]
    bottom = [0.0] * len(bars)
    for stage in ("endpointing", "recognition", "translation", "synthesis", "delivery"):
        values = [report["models"][m][c]["stages_p50_s"][stage] for m, c in bars]
        left.bar(labels, values, bottom=bottom, label=stage)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    left.set_ylabel("seconds (p50)")
    left.set_title("end of speech -> first translated audio")
    left.legend(fontsize=8)
    for name, c in report["capacity"].items():
        middle.plot([x["people"] for x in c["steps"]], [x["lag_p95_s"] for x in c["steps"]],
                    "o-", label=name)  # fmt: skip
    middle.axhline(2.0, color="grey", linestyle="--", linewidth=1)
    middle.set_xlabel("people talking at once (Whisper base)")
    middle.set_ylabel("final caption lag p95 (s)")
    middle.set_title("capacity")
    middle.legend(fontsize=8)
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


def monologue_section(report: dict) -> list[str]:
    mono = report["monologues"]
    out = [
        "## Monologues",
        "",
        "People who do not pause: each monologue is one voice saying its language's sentences",
        "of four words or more, 120 ms apart (no pause long enough to end an utterance),",
        "streamed into a room in real time, with one listener in the other language (en -> es,",
        "es -> en). *after* is the default server, where each sentence (a long one in",
        "clauses) is final as soon as two decodes agree on it (`PARLEY_STT_COMMIT=sentence`);",
        "*window* waits for the end of the",
        "utterance (`utterance`; the speech is cut at 15 s). The lag is from the end of a",
        "sentence in the speaker's audio to the first translated audio of the segment that",
        "carries its last-but-one word (the script aligned word by word with the committed",
        "text, so a word misheard or missed does not move later sentences into later",
        "segments); heard until is when the listener, playing every chunk in order from its",
        "arrival, finishes, after the speaker stopped; CPU is the server's, per minute of",
        "speech; WER is the committed text joined, against the script (a whole-clip",
        f"recognition of the same audio scored {mono['whole_clip_wer']:.3f}).",
        "",
        "| config | monologues | sentences | lag p50 | lag p95 | never heard | heard until"
        " (max) | CPU s per min | WER |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in (AFTER, WINDOW):
        m = mono[name]
        out.append(
            f"| {name} | {m['monologues']} | {m['sentences']} | {m['lag_p50_s']:.2f} s | "
            f"{m['lag_p95_s']:.2f} s | {m['never_heard']} | {m['heard_until_max_s']:.2f} s | "
            f"{m['cpu_s_per_min']:.1f} | {m['wer']:.3f} |"
        )
    out += ["", "| voice | config | speech | segments | lags (s) | heard until | WER |",
            "| --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for name in (AFTER, WINDOW):
        for r in mono[name]["rows"]:
            lags = ", ".join(f"{x:.1f}" for x in r["lags_s"])
            out.append(
                f"| {r['voice']} | {name} | {r['speech_s']:.0f} s | {r['segments']} | {lags} | "
                f"{r['heard_until_s']:.1f} s | {r['wer']:.3f} |"
            )
    return [*out, ""]


def recognition_sections() -> list[str]:
    """The recognition window, end-of-turn and Opus sections, from the latest runs of
    ``python -m bench.stt_window``, ``python -m bench.turn`` and ``python -m bench.opus``
    (bench/results/)."""
    out = []
    window = RESULTS / "stt_window.json"
    if window.exists():
        out += stt_window_markdown(json.loads(window.read_text()))
    turn = RESULTS / "turn.json"
    if turn.exists():
        out += turn_markdown(json.loads(turn.read_text()))
    opus = RESULTS / "opus.json"
    if opus.exists():
        out += opus_markdown(json.loads(opus.read_text()))
    return out


def write_markdown(report: dict, path: Path) -> None:
    """docs/benchmarks.md from the report, so the document always shows the latest run."""
    one_language = report.get("fanout_one_language", [])
    one_spread = (
        f"{one_language[0]['spread_p99_ms']:.1f} ms at p99 in this run" if one_language else "-"
    )
    widest = max(report["fanout"], key=lambda f: f["listeners"])
    gap = f"{widest.get('synthesis_gap_p99_ms', float('nan')):.1f} ms"
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
        "Two configurations of the same server, measured in the same run, their rounds",
        "alternating: *before* is the first version, Whisper's full 30 s window, greedy, with",
        "silence-only endpointing (`PARLEY_STT_WINDOW=full PARLEY_STT_BEAM_SIZE=1",
        "PARLEY_STT_TURN=off`), *after* the defaults (the window fitted to the utterance, beam 5;",
        "see Recognition window below). Utterances up to 5 s. Stages",
        "are the server's own timings (UtteranceAudioBegin): endpointing is the silence that",
        "confirms the end of speech (500 ms, recognition starts after 200 ms of it), recognition",
        "is from that confirmation to the final transcript, delivery is what remains of the lag",
        "measured at the listener.",
        "",
        "| model | config | deliveries | first audio p50 | p95 | final caption p50 | endpointing |"
        " recognition | translation | synthesis | delivery |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for model, by_config in report["models"].items():
        for name, m in by_config.items():
            s = m["stages_p50_s"]
            out.append(
                f"| {model} | {name} | {m['deliveries']} | {m['first_audio_p50_s']:.2f} s | "
                f"{m['first_audio_p95_s']:.2f} s | {m['caption_p50_s']:.2f} s | "
                + " | ".join(
                    f"{s[k]:.2f} s"
                    for k in ("endpointing", "recognition", "translation", "synthesis", "delivery")
                )  # fmt: skip
                + " |"
            )
    out += [
        "",
        "After/before at the p50: Whisper base "
        f"{_ratio(report, 'whisper-base'):.2f}, tiny.en {_ratio(report, 'whisper-tiny.en'):.2f}.",
        "",
        "## Capacity",
        "",
        "How many people one server holds while each keeps talking: every person is alone in a",
        "room with one listener (Spanish captions) and says English sentences of 3-5 s (several",
        "voices of Pico, espeak-ng, MBROLA and Piper) with 1 s between them, starting at",
        "staggered moments. For N people at once the final-caption lag (end of a sentence's",
        "speech -> its final caption at the listener, the last piece's where a long sentence",
        "is captioned in clauses while it is said) is measured over 40 s; N grows in steps",
        "until its p95 passes 2 s, then each N between the last that held and the first that",
        "did not is tried. Whisper base, one recognition worker, both configurations in this",
        "run.",
        "",
        "| config | people held | lag p95 at each step |",
        "| --- | --- | --- |",
        *(
            f"| {name} | {c['people']} | "
            + ", ".join(f"{x['people']}: {x['lag_p95_s']:.2f} s" for x in c["steps"])
            + " |"
            for name, c in report["capacity"].items()
        ),
        "",
        *monologue_section(report),
        *recognition_sections(),
    ]
    out += [
        "",
        "## Fan-out",
        "",
        "One English speaker, N listeners spread over es, fr and it. CPU is the server",
        "process's user+system time per utterance (recognition, translation, synthesis and",
        "delivery together); the spread is between the first and the last listener to get the",
        "first audio chunk of an utterance (p99 over the utterances). First chunk is the",
        "server's own time from the start of a language's synthesis to its first chunk",
        "(UtteranceAudioBegin), and the gap is how far apart the three languages' first chunks",
        "came, as the server saw them. The last row has every listener in one language.",
        "",
        "| listeners | CPU s per utterance | spread p99, all listeners | within one language |"
        " first chunk p50 | gap between languages p99 |",
        "| --- | --- | --- | --- | --- | --- |",
        *(
            f"| {f['listeners']}{' (es only)' if one else ''} | {f['cpu_s_per_utterance']:.2f} | "
            f"{f['spread_p99_ms']:.1f} ms | {f['spread_within_language_p99_ms']:.1f} ms | "
            f"{f.get('synthesis_first_chunk_p50_ms', float('nan')):.1f} ms | "
            f"{f.get('synthesis_gap_p99_ms', float('nan')):.1f} ms |"
            for one, group in ((False, report["fanout"]), (True, one_language))
            for f in group
        ),
        "",
        "Listeners of one language share one synthesis and get each chunk within a few",
        "milliseconds of each other. The spread across languages has two parts, profiled with",
        "`python -m bench.spread` (per-language timings of a 200-listener room) and",
        "`python -m bench.profile pico`:",
        "",
        "- Delivery: one Python event loop writes every message to every listener's stream (the",
        "  audio begin and the first chunk: 400 writes for 200 listeners), and the benchmark's",
        "  own client, reading 200 streams on the same two cores, stamps them. With every",
        "  listener in one language (no gap between syntheses) that alone spreads the first",
        f"  audio over {one_spread} (p50 8-9 ms, p99 11-20 ms over our runs).",
        "- The gap between the three syntheses' first chunks: three syntheses start together",
        "  after the one translation call and share two cores with the event loop (which is",
        "  delivering the captions to every listener just then) and the benchmark client.",
        f"  In this run it was {gap} at p99.",
        "",
        "What was changed to shrink the gap (each measured with `python -m bench.profile pico`,",
        "the first piece of a room's es/fr/it sentences, median of 12):",
        "",
        "| SVOX Pico loop | first clause alone | one synthesis | three at once | max of three |",
        "| --- | --- | --- | --- | --- |",
        "| Python (before) | no (before) | 9.8 ms | 29.7 ms | 49.6 ms |",
        "| Python | yes | 3.6 ms | 4.9 ms | 24.4 ms |",
        "| C | no | 8.5 ms | 21.0 ms | 37.9 ms |",
        "| C (now) | yes (now) | 3.0 ms | 3.1 ms | 18.6 ms |",
        "",
        "- Pico analyses a whole sentence before its first sound (about 700 `pico_getData` steps",
        "  for 50 characters, 1,560 for 110), so a stream now speaks the first clause of its",
        "  first sentence on its own (cut at its first comma; the pause Pico leaves at the end of",
        "  a text is cut to 250 ms, a comma's pause): 3-5 ms to the first audio instead of",
        "  10-18 ms (`PARLEY_TTS_FIRST_CLAUSE`).",
        "- Each `pico_getData` step made a ctypes call from Python, which gives up and takes back",
        "  the GIL: 15,000 times per sentence, so three syntheses queued on the GIL (and took it",
        "  from the event loop). A 15-line C loop, compiled once with the system's C compiler",
        "  and cached, runs the steps for a whole 50 ms chunk in one call: a sentence takes 16-19",
        "  ms instead of 36-52 ms, 32-46 ms instead of 130-210 ms three at once (without a",
        "  compiler the Python loop is used).",
        "- Pieces after the first are gathered to 100 ms (half as many messages to deliver to",
        "  every listener), and while any stream waits for its first piece, streams that have",
        "  already started hold their next piece back (never beyond the audio they have",
        "  already sent, less 20 ms), so the first language's later audio does not take the",
        "  loop and the cores from the others' first audio. Nobody's first audio is delayed.",
        "",
        "The same 200-listener room (bench.spread, 10 utterances per run) before these",
        "changes, five runs: spread p50 42-77 ms, p99 74-157 ms (once 549 ms), server first",
        "chunk p50 56-149 ms per language, gap between languages p50 33-62 ms; after, twelve",
        "runs: spread p50 26-49 ms, p99 44-90 ms (once 193 ms, at a load average of 6 from",
        "other work on the machine), first chunk p50 20-59 ms (105 in that run), gap p50",
        "19-34 ms. Run to run the machine's other load moves these by tens of milliseconds.",
        "",
        "What still bounds it on two cores: the three first pieces need 3-10 ms of CPU each,",
        "delivering a first chunk to 200 listeners takes the event loop 10-20 ms (the",
        "loop runs 10-20 ms late throughout an utterance's fan-out to 200 listeners), and the",
        "benchmark client competes for the same two cores. The p99 of 50 ms is reached in",
        "some runs and missed in others. Starting the translation and the first pieces on the",
        "early recognition result (during the endpointing wait) would remove the synthesis gap",
        "altogether; that needs the recognition stream to expose its tentative final result.",
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
        "Batching the finals of several speakers into one Whisper call does not help on this",
        "CPU. `python -m bench.profile batch` times k utterances encoded and decoded as one",
        "CTranslate2 batch against k calls, in interleaved pairs (same transcripts both ways),",
        "three runs: Whisper base, batch/sequential wall time 1.01-1.03 for k=2 and 1.03-1.08",
        "(median) for k=4, CPU time 1.01-1.06 and 1.02-1.14; tiny.en CPU time 0.92-1.08. The",
        "encoder then ran on a 30 s window (this was measured before the fitted window) and",
        "its int8 matrix products already keep both cores busy, so a batch of k costs k",
        "encodings; and a batch returns nothing until all of it is done, so the first speaker",
        "would wait for the last. It is not implemented.",
        "",
        "Running two recognitions at once (`PARLEY_STT_WORKERS=2`, each on both cores) was",
        "measured too. At the recognition queue (`python -m bench.profile stt`, 4 finals at",
        "once, two runs) the last result comes sooner (3.8-4.1 s instead of 5.2-5.5 s) but a",
        "final alone is no faster (1.2-1.5 s). In this room scenario (two runs of three) it",
        "made things worse: 2 speakers p50 1.70-1.90 s instead of 1.38-1.81 s, 4 speakers p50",
        "2.12-2.16 s instead of 1.71-2.20 s, max 2.31-2.38 s instead of 2.18-2.70 s, and 20-30",
        "MB more memory: the early start already overlaps the first recognition with the",
        "endpointing wait, and two at once share the same two cores. The default stays 1; the",
        "setting is for machines with more cores.",
        "",
        f"Resident memory of `parley serve` after warm-up: {report['rss_mb']:.0f} MB.",
        "",
        "## Thread pools on two cores",
        "",
        "Measured with `python -m bench.spread` (200 listeners in es, fr and it, two runs of 10",
        "utterances per setting):",
        "",
        "- Synthesis (`PARLEY_TTS_THREADS`, 4): 1 thread gives a spread of p50 35-39 ms, p99",
        "  61-117 ms (the languages' first chunks come one after another: es 15-17, fr 27-34, it",
        "  49-52 ms); 2 threads p50 27-35 ms, p99 42-68 ms; 4 threads p50 36-39 ms, p99 60-89 ms.",
        "  2 and 4 are within this machine's noise; 4 stays so that an engine that holds a",
        "  thread for a whole sentence (Piper 0.2-0.4 s, Coqui) cannot hold up the Pico and",
        "  espeak-ng streams of other languages.",
        "- Translation (`PARLEY_TRANSLATE_WORKERS`, 4): the translation stage is 1.6-2.1 ms p50",
        "  with 1 worker or 4 (Apertium answers from long-lived pipelines in their own",
        "  processes), the spread p50 30-35 ms or 26-37 ms: no effect. 4 stays, so that targets",
        "  whose routes share no first step run side by side.",
        "- Recognition (`PARLEY_STT_WORKERS`, 1): see above.",
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
        *(
            ["What bounds the targets this run failed:", "", *bounds(report), ""]
            if bounds(report)
            else []
        ),
        "The machine is shared, and its other load moves every figure. Before the fitted",
        "recognition window, four runs of this benchmark on 2026-11-24 gave a base p50 of",
        "1.02-1.27 s, tiny.en",
        "0.75-0.79 s, a 200-vs-3 listener CPU ratio of 1.07-1.12, a listener spread p99 of",
        "27-53 ms (the gap between languages at 200 listeners 23-46 ms p99, one language alone",
        "11-20 ms) and 461-623 MB resident. Three runs before the synthesis changes gave a",
        "base p50 of 1.05-1.20 s, a CPU ratio of 1.02-1.18 and a spread of 82-137 ms. Compare",
        "ratios within one run. Of those four runs, the base p50 failed once (1.27 s:",
        "recognition took 0.64 s of it, against 0.44-0.57 s in the others), the CPU ratio",
        "twice (1.11 and 1.12: the 0.3 s per utterance that 197 more listeners add is writing",
        "every message to every listener's stream, some 40-60 µs of CPU per message and",
        "listener, against about 3 s of the whole utterance, mostly Whisper, that moves from",
        "run to run by as much) and the spread once (53 ms, with a 46 ms gap between the",
        "languages' first chunks: see Fan-out).",
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
        "- Each Whisper call encodes only its audio and a margin, not Whisper's 30 s window",
        "  (see Recognition window): Whisper base takes 0.3-0.5 s for an utterance of 2-6 s",
        "  instead of about 1 s, which the early start hides inside the endpointing wait.",
        "  Language detection uses the same encoder pass as the transcription; partial",
        "  hypotheses wait behind final ones and none starts once silence has begun.",
        "- Models load in the background as soon as the server is serving, so the first",
        "  utterance does not pay for loading.",
        "- Translation is one call for every listener language; Apertium answers in 2-3 ms from",
        "  long-lived pipelines. Synthesis is one stream per language, sentence by sentence, its",
        "  first clause on its own; Pico runs its synthesis loop in C and makes the first chunk",
        "  in 3-5 ms. Each chunk is queued to every listener of its language as it arrives, and",
        "  a stream's later chunks give way to other languages' first ones (see Fan-out).",
        "- The floor is the endpointing silence itself (500 ms, configurable per stream):",
        "  shortening it cuts sentences at commas, and the end-of-turn model that could end a",
        "  finished sentence sooner did not tell finished from unfinished ones on these voices",
        "  (see End of turn).",
        "- Several people speaking at once queue on one recognition worker per model (Whisper",
        "  already uses both cores for one utterance), so latency grows with the number of",
        "  simultaneous speakers (see Capacity); neither batching them into one Whisper call nor",
        "  running two at once helped on two cores (see People speaking at once). Files given",
        "  to Recognize wait behind every live stream.",
        "",
    ]
    path.write_text("\n".join(out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one pass of each scenario")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: write docs/benchmarks.md and its plot again from the latest "
        "results (bench/results/*.json), after a run of bench.stt_window or bench.turn",
    )
    args = parser.parse_args()
    if args.report_only:
        report = json.loads((RESULTS / "latest.json").read_text())
    else:
        report = asyncio.run(run(args.quick))
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "latest.json").write_text(json.dumps(report, indent=2))
    print_report(report)
    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    plot(report, docs / "benchmarks.png")
    write_markdown(report, docs / "benchmarks.md")
    return 0 if all(ok for *_, ok in verdicts(report)) else 1


if __name__ == "__main__":
    sys.exit(main())
