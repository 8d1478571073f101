"""Where the first-to-last listener spread of a room comes from, language by language.

``python -m bench.spread`` runs `parley serve` (the room benchmark's server) with one English
speaker and N listeners spread over es, fr and it, and prints for every utterance and language:
the server's own time from the start of that language's synthesis to its first chunk
(UtteranceAudioBegin.timings.synthesis_first_chunk), and when the first and the last listener
of the language got the first audio chunk, relative to the first listener of the room. The
difference between what the server measured and what listeners saw is delivery (the server's
event loop writing to every stream, and the benchmark's own client reading them).

Extra server settings go after ``--env``, for example ``--env PARLEY_TTS_THREADS=2``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from bench.room import Server, make_lines, percentile, speak
from parley.v1 import audio_pb2, rooms_pb2
from parley_client import Connection
from parley_client.rooms import RoomSession

LANGS = ("es", "fr", "it")


class Probe:
    """One listener: when the audio_begin and the first chunk of each utterance came."""

    def __init__(self, session, language: str) -> None:
        self.session = session
        self.language = language
        self.begin: dict[str, float] = {}
        self.first: dict[str, float] = {}
        self.synthesis: dict[str, float] = {}
        self.translation: dict[str, float] = {}
        self.order: list[str] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for event in self.session.events():
            now = time.perf_counter()
            kind = event.WhichOneof("event")
            if kind == "audio_begin":
                u = event.audio_begin.utterance_id
                self.begin[u] = now
                t = event.audio_begin.timings
                self.synthesis[u] = t.synthesis_first_chunk.ToNanoseconds() / 1e6
                self.translation[u] = t.translation.ToNanoseconds() / 1e6
                self.order.append(u)
            elif kind == "audio_chunk":
                self.first.setdefault(event.audio_chunk.utterance_id, now)


def _audio_only(parley, room: str, name: str, listen: str, token: str):
    """A listener who asked for audio and no captions."""
    fmt = audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hz=16_000)
    join = rooms_pb2.JoinRoom(
        room_id=room,
        display_name=name,
        listen_language=listen,
        input_format=fmt,
        output_format=fmt,
        delivery=rooms_pb2.DELIVERY_MODE_AUDIO_ONLY,
        join_token=token,
    )
    return RoomSession(parley.rooms._stub, join)


async def run(
    server: Server,
    listeners: int,
    utterances: int,
    languages: tuple[str, ...] = LANGS,
    audio_only: bool = False,
) -> list[dict]:
    lines = await make_lines(server.address)
    rows = []
    async with Connection(server.address) as parley:
        created = await parley.rooms.create()
        room, token = created.room.room_id, created.join_token
        speaker = parley.rooms.join(room, "Speaker", "en", "en", join_token=token)
        own = Probe(speaker, "en")
        probes = [
            Probe(
                _audio_only(parley, room, f"L{i}", lang, token)
                if audio_only
                else parley.rooms.join(room, f"L{i}", lang, join_token=token),
                lang,
            )
            for i, lang in ((i, languages[i % len(languages)]) for i in range(listeners))
        ]
        await asyncio.sleep(1.0 + listeners / 100)
        said = 0
        for k in range(utterances):
            line = lines["en"][1 + k % 3]
            ended = await speak(speaker, line)
            said += 1
            deadline = time.perf_counter() + 60
            while time.perf_counter() < deadline:
                if all(len(p.order) >= said and p.order[said - 1] in p.first for p in probes):
                    break
                await asyncio.sleep(0.05)
            firsts = [p.first[p.order[said - 1]] for p in probes if len(p.order) >= said]
            t0 = min(firsts)
            row: dict = {
                "utterance": k,
                "spread_ms": (max(firsts) - t0) * 1000,
                # End of speech to the first audio at the first and at the last listener.
                "first_audio_s": t0 - ended,
                "last_audio_s": max(firsts) - ended,
                "languages": {},
            }
            for language in languages:
                group = [p for p in probes if p.language == language and len(p.order) >= said]
                u = group[0].order[said - 1]
                row["languages"][language] = {
                    "translation_ms": group[0].translation[u],
                    "synthesis_first_chunk_ms": group[0].synthesis[u],
                    "begin_first_ms": (min(p.begin[u] for p in group) - t0) * 1000,
                    "audio_first_ms": (min(p.first[u] for p in group) - t0) * 1000,
                    "audio_last_ms": (max(p.first[u] for p in group) - t0) * 1000,
                }
            rows.append(row)
        for session in (speaker, *(p.session for p in probes)):
            session.leave()
        own.task.cancel()
    return rows


def report(rows: list[dict]) -> dict:
    langs = list(rows[0]["languages"])
    spreads = [r["spread_ms"] for r in rows]
    synth = {
        lang: [r["languages"][lang]["synthesis_first_chunk_ms"] for r in rows] for lang in langs
    }
    # How far apart the three syntheses' first chunks are, as the server saw them.
    synth_gap = [
        max(r["languages"][x]["synthesis_first_chunk_ms"] for x in langs)
        - min(r["languages"][x]["synthesis_first_chunk_ms"] for x in langs)
        for r in rows
    ]
    within = [
        max(v["audio_last_ms"] - v["audio_first_ms"] for v in r["languages"].values()) for r in rows
    ]
    translation = [r["languages"][langs[0]]["translation_ms"] for r in rows]
    return {
        "utterances": len(rows),
        "first_audio_p50_s": percentile([r["first_audio_s"] for r in rows], 50),
        "last_audio_p50_s": percentile([r["last_audio_s"] for r in rows], 50),
        "translation_p50_ms": percentile(translation, 50),
        "spread_p50_ms": percentile(spreads, 50),
        "spread_p99_ms": percentile(spreads, 99),
        "spread_max_ms": max(spreads),
        "within_language_p99_ms": percentile(within, 99),
        "synthesis_first_chunk_p50_ms": {k: statistics.median(v) for k, v in synth.items()},
        "synthesis_first_chunk_max_ms": {k: max(v) for k, v in synth.items()},
        "synthesis_gap_p50_ms": percentile(synth_gap, 50),
        "synthesis_gap_max_ms": max(synth_gap),
    }


async def main_async(args) -> dict:
    env = dict(item.split("=", 1) for item in args.env)
    server = Server(args.model, env)
    try:
        await server.ready()
        await asyncio.sleep(2.0)  # let the background warm-ups finish
        languages = tuple(args.languages.split(","))
        rows = await run(server, args.listeners, args.utterances, languages, args.audio_only)
    finally:
        server.stop()
    return {"env": env, "listeners": args.listeners, "rows": rows, **report(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--utterances", type=int, default=8)
    parser.add_argument("--model", default="whisper-base")
    parser.add_argument("--languages", default=",".join(LANGS), help="listen languages, spread")
    parser.add_argument("--env", nargs="*", default=[], metavar="NAME=VALUE")
    parser.add_argument(
        "--audio-only", action="store_true", help="listeners ask for no captions (a profile)"
    )
    parser.add_argument("--verbose", action="store_true", help="print every utterance")
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    if args.verbose:
        for r in result["rows"]:
            parts = "  ".join(
                f"{lang}: synth {v['synthesis_first_chunk_ms']:5.1f}"
                f" begin {v['begin_first_ms']:5.1f}"
                f" audio {v['audio_first_ms']:5.1f}-{v['audio_last_ms']:5.1f}"
                for lang, v in r["languages"].items()
            )
            print(f"u{r['utterance']}: spread {r['spread_ms']:6.1f} ms | {parts}")
    summary = {k: v for k, v in result.items() if k != "rows"}
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
