"""Translation speed per engine: latency per sentence and sentences per second.

Measures, on warm engines and distinct sentences (nothing served from a cache):

- Apertium, one direct direction (en>es): one sentence per call, then a batch in one call;
- a pivot route (en>es>fr) through the translator;
- the whole gRPC ``Translate`` of one sentence into es, fr, it and pt, in-process;
- MarianMT and CTranslate2 on a tiny random model built here (the code path and its overhead,
  not the speed of a real opus-mt model, which is 10-100x larger);
- DeepL's engine against a local server speaking its API (HTTP overhead only).

Prints a table with PASS/FAIL against the targets. Run: ``python -m bench.translate``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc

from parley.server import ServerConfig, running
from parley.v1 import translate_pb2 as pb
from parley.v1 import translate_pb2_grpc
from services.translate.cache import TranslationCache
from services.translate.config import TranslateConfig
from services.translate.engines.apertium import ApertiumEngine, discover
from services.translate.router import Router
from services.translate.servicer import service
from services.translate.translator import Translator

SUBJECTS = ["The cat", "My brother", "The teacher", "Our neighbour", "The old man", "A child"]
VERBS = ["eats", "buys", "sees", "wants", "finds", "brings", "sells"]
OBJECTS = ["bread", "a red car", "the big house", "fresh fish", "a new book", "green apples"]
PLACES = ["today.", "in the morning.", "near the river.", "every Sunday."]


def sentences(count: int) -> list[str]:
    """``count`` distinct simple English sentences."""
    combos = itertools.product(SUBJECTS, VERBS, OBJECTS, PLACES)
    return [" ".join(parts) for parts in itertools.islice(combos, count)]


@dataclass
class Row:
    """One line of the result table."""

    engine: str
    measure: str
    p50_ms: float | None = None
    p95_ms: float | None = None
    per_s: float | None = None
    target: str = ""
    passed: bool | None = None


def timed(call: Callable[[], object], runs: int) -> list[float]:
    """Seconds taken by each of ``runs`` calls."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def latency_row(engine: str, measure: str, times: list[float], target_ms: float | None) -> Row:
    p50 = statistics.median(times) * 1000
    p95 = statistics.quantiles(times, n=20)[-1] * 1000 if len(times) >= 20 else max(times) * 1000
    return Row(
        engine,
        measure,
        p50,
        p95,
        1 / statistics.mean(times),
        f"p50 < {target_ms:g} ms" if target_ms else "",
        None if target_ms is None else p50 < target_ms,
    )


def batch_row(engine: str, translate: Callable[[list[str]], object], texts: list[str]) -> Row:
    start = time.perf_counter()
    translate(texts)
    elapsed = time.perf_counter() - start
    return Row(engine, f"batch of {len(texts)} in one call", per_s=len(texts) / elapsed)


def bench_apertium(engine: ApertiumEngine, texts: list[str]) -> list[Row]:
    engine.translate(["Warm up."], "en", "es")
    feed = iter(texts)
    times = timed(lambda: engine.translate([next(feed)], "en", "es"), len(texts) // 2)
    rows = [latency_row("apertium", "en>es, 1 sentence per call", times, 50)]
    batch = batch_row("apertium", lambda b: engine.translate(b, "en", "es"), texts)
    batch.target, batch.passed = "> 200 /s", (batch.per_s or 0) > 200
    return [*rows, batch]


def bench_pivot(engine: ApertiumEngine, texts: list[str]) -> Row:
    async def run() -> list[float]:
        with ThreadPoolExecutor(4) as pool:
            translator = Translator(Router([engine], ["es"]), TranslationCache(0), pool, 50_000)
            await translator.translate(["Warm up."], "en", ["fr"])
            times = []
            for text in texts:
                start = time.perf_counter()
                await translator.translate([text], "en", ["fr"])
                times.append(time.perf_counter() - start)
            return times

    return latency_row("apertium", "en>es>fr pivot, translator", asyncio.run(run()), 100)


def bench_grpc(texts: list[str]) -> Row:
    async def run() -> list[float]:
        config = TranslateConfig(translate_engines="apertium", translate_cache_size=0)
        async with running(
            [service(config)], ServerConfig(host="127.0.0.1", port=0, auth="disabled")
        ) as srv:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.port}") as channel:
                stub = translate_pb2_grpc.TranslationServiceStub(channel)
                times = []
                for text in ["Warm up.", *texts]:
                    request = pb.TranslateRequest(
                        texts=[text],
                        source_language="en",
                        target_languages=["es", "fr", "it", "pt"],
                    )
                    start = time.perf_counter()
                    await stub.Translate(request, timeout=30)
                    times.append(time.perf_counter() - start)
                return times[1:]

    return latency_row("apertium", "gRPC Translate en>es,fr,it,pt", asyncio.run(run()), 150)


def bench_neural(texts: list[str]) -> list[Row]:
    try:
        from services.translate.engines.ct2 import Ct2Engine
        from services.translate.engines.marian import MarianEngine
        from tests.translate.tiny_models import build_marian, convert_ct2
    except ImportError as exc:  # pragma: no cover - without the neural extra
        return [Row("marian/ctranslate2", f"skipped: {exc}")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        marian_dir = build_marian(Path(tmp) / "tiny-marian")
        ct2_dir = convert_ct2(marian_dir, Path(tmp) / "tiny-ct2")
        engines = [
            MarianEngine({("en", "de"): str(marian_dir)}, beam_size=2),
            Ct2Engine({("en", "de"): str(ct2_dir)}, beam_size=2),
        ]
        for engine in engines:
            engine.translate(["Warm up."], "en", "de")
            feed = iter(texts)
            times = timed(
                lambda e=engine, f=feed: e.translate([next(f)], "en", "de"), len(texts) // 4
            )
            rows.append(latency_row(engine.name, "tiny model, 1 sentence per call", times, None))
            batch = texts[: len(texts) // 2]
            rows.append(
                batch_row(engine.name, lambda b, e=engine: e.translate(b, "en", "de"), batch)
            )
    return rows


def bench_deepl(texts: list[str]) -> Row:
    from services.translate.engines.deepl import DeepLEngine
    from tests.translate.fake_deepl import fake_deepl

    with fake_deepl("bench") as (url, _):
        engine = DeepLEngine("bench", url)
        engine.discover()
        feed = iter(texts)
        times = timed(lambda: engine.translate([next(feed)], "en", "de"), len(texts) // 2)
        engine.close()
    return latency_row("deepl", "local API server, 1 sentence per call", times, None)


def fmt(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def print_table(rows: list[Row]) -> None:
    print(
        f"{'engine':<12}{'measure':<40}{'p50 ms':>9}{'p95 ms':>9}{'sent/s':>9}  target       result"
    )
    for row in rows:
        verdict = "" if row.passed is None else ("PASS" if row.passed else "FAIL")
        print(
            f"{row.engine:<12}{row.measure:<40}{fmt(row.p50_ms, '.2f'):>9}"
            f"{fmt(row.p95_ms, '.2f'):>9}{fmt(row.per_s, '.0f'):>9}  {row.target:<13}{verdict}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=200, help="distinct sentences per test")
    parser.add_argument("--no-neural", action="store_true", help="skip MarianMT and CTranslate2")
    args = parser.parse_args()
    texts = sentences(args.sentences)
    modes = discover()
    if not modes:
        print("no Apertium pair installed: run scripts/install-system.sh")
        return 1
    engine = ApertiumEngine(modes)
    try:
        rows = [*bench_apertium(engine, texts), bench_pivot(engine, texts[:100])]
    finally:
        engine.close()
    rows.append(bench_grpc(texts[:100]))
    if not args.no_neural:
        rows.extend(bench_neural(texts))
    rows.append(bench_deepl(texts))
    print_table(rows)
    return 0 if all(row.passed is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
