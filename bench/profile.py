"""Profiles behind docs/benchmarks.md: what bounds the listener spread and simultaneous speakers.

``python -m bench.profile pico``: SVOX Pico's time to the first piece of a stream, one synthesis
alone and three at once (a room's three listen languages), with the synthesis loop in Python or
in C, for whole sentences or with the first clause cut off (services/tts/synthesis.py).

``python -m bench.profile batch``: is one batched Whisper call for k utterances cheaper than k
calls on this CPU? Wall and process CPU seconds, interleaved pairs, same transcripts checked.

``python -m bench.profile stt``: k final recognitions submitted at once through the STT
service's queue, for several (PARLEY_STT_WORKERS, PARLEY_STT_CPU_THREADS) pairs.

The machine may be shared: every figure is a median over interleaved repetitions, and the
ratios within one run are what to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time

import numpy as np

from parley import audio
from services.tts.engines.base import SynthesisOptions
from services.tts.engines.pico import PicoEngine
from services.tts.synthesis import Job

ROOM_TEXTS = {  # what a room's listeners hear of "Please send me the report before Friday."
    "es": "Por favor, envíame el informe antes del viernes.",
    "fr": "S'il vous plaît, envoyez-moi le rapport avant vendredi.",
    "it": "Per favore, mandami il rapporto prima di venerdì.",
}
LINES = [
    "Please send me the report before Friday.",
    "The weather is lovely today, so we will walk to the park after lunch.",
    "I think we should start the project next week.",
    "Good morning, how are you today?",
]


def _median(values) -> float:
    return statistics.median(values) if values else float("nan")


def _first_piece_ms(job: Job, out: dict, key: str, go: threading.Event) -> None:
    go.wait()
    started = time.perf_counter()
    pieces = job.pieces()
    next(pieces)
    out[key] = (time.perf_counter() - started) * 1000
    for _ in pieces:
        pass


def pico(reps: int) -> None:
    fmt = audio.AudioFormat(audio.LINEAR16, 16_000, 1)
    print(f"{'loop':<8}{'first clause':<14}{'alone ms':>10}{'3 at once ms':>14}{'max':>7}")
    for native in (False, True):
        engine = PicoEngine(native=native)
        voices = {v.id[:2]: v for v in engine.voices()}
        for language in ROOM_TEXTS:
            engine.warm_up(voices[language])
        for split in (False, True):
            alone, together = [], []
            for r in range(reps):
                one = [list(ROOM_TEXTS)[r % 3]]
                for group, sink in ((one, alone), (list(ROOM_TEXTS), together)):
                    out: dict = {}
                    go = threading.Event()
                    threads = []
                    for language in group:
                        job = Job(
                            engine,
                            voices[language],
                            ROOM_TEXTS[language],
                            SynthesisOptions(),
                            fmt,
                            pitch=1.1,  # a speaker's variant, resampled as in a room
                            first_clause=split,
                        )
                        args = (job, out, language, go)
                        threads.append(threading.Thread(target=_first_piece_ms, args=args))
                    for t in threads:
                        t.start()
                    go.set()
                    for t in threads:
                        t.join()
                    sink.extend(out.values())
            print(
                f"{'C' if engine._fill else 'Python':<8}{'yes' if split else 'no':<14}"
                f"{_median(alone):>10.1f}{_median(together):>14.1f}{max(together):>7.1f}"
            )
        engine.close()


def _clips() -> list[np.ndarray]:
    engine = PicoEngine()
    voice = {v.id: v for v in engine.voices()}["en-US"]
    return [
        np.concatenate(list(engine.synthesize(t, voice, SynthesisOptions()))).astype(np.float32)
        for t in LINES
    ]


def batch(model_name: str, reps: int) -> None:
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_ctranslate2_storage

    from services.stt.engine import RecognitionOptions
    from services.stt.models import BUILTIN, default_cache_dir
    from services.stt.whisper import WhisperRecognizer

    clips = _clips()
    source = next(s for s in BUILTIN if s.name == model_name)
    recognizer = WhisperRecognizer(source, default_cache_dir(), "cpu", "int8")
    recognizer.load()
    model = recognizer._model
    model.encode = model.encode._encode  # every call encodes (no reuse of the last window)
    options = RecognitionOptions(language="en")
    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, "transcribe", "en")
    prompt = model.get_prompt(tokenizer, [], without_timestamps=True)

    def batched(audios: list[np.ndarray]) -> list[str]:
        features = np.stack([pad_or_trim(model.feature_extractor(a)[:, :-1]) for a in audios])
        encoded = model.model.encode(get_ctranslate2_storage(features.astype(np.float32)))
        results = model.model.generate(
            encoded, [prompt] * len(audios), beam_size=1, suppress_blank=True, suppress_tokens=[-1]
        )
        return [
            tokenizer.decode([t for t in r.sequences_ids[0] if t < tokenizer.eot]).strip()
            for r in results
        ]

    def timed(work):
        wall, cpu = time.perf_counter(), time.process_time()
        out = work()
        return time.perf_counter() - wall, time.process_time() - cpu, out

    recognizer.transcribe(clips[0], options)
    batched(clips[:2])
    print(f"{model_name}: batched / sequential, per interleaved pair (median, range)")
    for k in (2, 4):
        items = clips[:k]
        pairs = []
        for _ in range(reps):
            one = timed(lambda items=items: [recognizer.transcribe(a, options).text for a in items])
            both = timed(lambda items=items: batched(items))
            pairs.append((one, both))
        wall = [b[0] / a[0] for a, b in pairs]
        cpu = [b[1] / a[1] for a, b in pairs]
        same = all(a[2] == b[2] for a, b in pairs)
        print(
            f"  k={k}: sequential {_median(a[0] for a, _ in pairs):.2f} s, batched "
            f"{_median(b[0] for _, b in pairs):.2f} s; wall ratio {_median(wall):.2f} "
            f"({min(wall):.2f}-{max(wall):.2f}), CPU ratio {_median(cpu):.2f} "
            f"({min(cpu):.2f}-{max(cpu):.2f}); same transcripts: {same}"
        )


def stt(model_name: str, reps: int, configs: list[tuple[int, int]]) -> None:
    from services.stt.config import SttConfig
    from services.stt.engine import RecognitionOptions
    from services.stt.registry import ModelRegistry

    clips = _clips()
    options = RecognitionOptions(language="en")

    async def run() -> None:
        registries = {}
        for workers, threads in configs:
            config = SttConfig(
                default_model=model_name, workers=workers, cpu_threads=threads, preload="lazy"
            )
            registry = ModelRegistry(config, environ={})
            await registry.load(model_name)
            model = registry.get(model_name)._model
            model.encode = model.encode._encode
            await registry.recognize(model_name, clips[0], options)
            registries[(workers, threads)] = registry
        found = {c: {k: [] for k in (1, 2, 4)} for c in configs}
        for rep in range(reps):
            for k in (1, 2, 4):
                for config in configs:  # interleaved
                    registry = registries[config]
                    started = time.perf_counter()

                    async def one(clip, registry=registry, started=started) -> float:
                        await registry.recognize(model_name, clip, options)
                        return time.perf_counter() - started

                    done = await asyncio.gather(*(one(clips[(rep + i) % 4]) for i in range(k)))
                    found[config][k].append((statistics.median(done), max(done)))
        for (workers, threads), by_k in found.items():
            cells = "  ".join(
                f"k={k}: p50 {_median(x[0] for x in v):.2f} s, "
                f"last {_median(x[1] for x in v):.2f} s"
                for k, v in by_k.items()
            )
            print(f"{model_name} workers={workers} cpu_threads={threads or 'all'}: {cells}")
        for registry in registries.values():
            await registry.close()

    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("pico", "batch", "stt"))
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--model", default="whisper-base")
    parser.add_argument(
        "--configs", default="1x0,1x1,2x1,2x2", help="workers x cpu_threads pairs (stt)"
    )
    args = parser.parse_args()
    if args.what == "pico":
        pico(args.reps)
    elif args.what == "batch":
        batch(args.model, args.reps)
    else:
        pairs = [tuple(int(n) for n in c.split("x")) for c in args.configs.split(",")]
        stt(args.model, args.reps, pairs)


if __name__ == "__main__":
    main()
