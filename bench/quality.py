"""Translation quality: chrF of every engine and route on the project's conversation set.

The set (``bench/data/conversation.jsonl``, written for the project, licence in
``bench/data/LICENSE``) holds everyday sentences in English and Spanish with reference
translations into fr, it, pt (Brazilian) and de. Every ordered pair of those six languages
that the configured engines reach is translated by every route of at most two steps (each
step by any engine serving it), and scored with sacrebleu's chrF against the references.

Writes ``bench/results/quality.json``, the route scores the router reads
(``services/translate/route_scores.json``) and ``docs/translation-quality.md``, and prints the
table with PASS/FAIL against the targets. Engines come from the same settings as the server
(``PARLEY_TRANSLATE_*``): set ``PARLEY_TRANSLATE_LLM_URL`` and ``_MODEL`` (or a DeepL key) to
measure those too. Run: ``python -m bench.quality``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sacrebleu.metrics import CHRF

from parley.settings import resolve
from services.translate.config import TranslateConfig
from services.translate.registry import build_engines
from services.translate.route_scores import SCORES_FILE
from services.translate.router import Route, Router

ROOT = Path(__file__).resolve().parent.parent
SET_FILE = ROOT / "bench" / "data" / "conversation.jsonl"
RESULTS = ROOT / "bench" / "results" / "quality.json"
DOC = ROOT / "docs" / "translation-quality.md"
LANGUAGES = ("en", "es", "fr", "it", "pt", "de")
# Targets: the neural en<->pt models against the rule-based pivot through Spanish.
NEURAL_MARGIN = 10.0
TARGET_PAIRS = (("en", "pt"), ("pt", "en"))
DIFFERING = 12  # sentences shown where routes differ most


@dataclass
class Scored:
    """One route of one pair, with its corpus chrF and each sentence's."""

    route: Route
    outputs: list[str]
    chrf: float
    sentence_chrf: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def engines(self) -> str:
        return "+".join(dict.fromkeys(step.engine for step in self.route.steps))


def load_set(path: Path = SET_FILE) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    for row in rows:
        missing = [code for code in LANGUAGES if not row.get(code)]
        if missing:
            raise ValueError(f"{path}: {row.get('id')} lacks {missing}")
    return rows


class RouteRunner:
    """Translates the set along routes, each step's output computed once and reused by every
    route that shares the step (``en>es`` serves ``en>es>fr`` and ``en>es>pt``)."""

    def __init__(self, router: Router) -> None:
        self._router = router
        self._done: dict[tuple, tuple[list[str], float]] = {}

    def run(self, route: Route, texts: list[str]) -> tuple[list[str], float]:
        seconds = 0.0
        key: tuple = (route.steps[0].source, tuple(texts))
        for step in route.steps:
            key = (*key, step)
            if key not in self._done:
                engine = self._router.engines[step.engine]
                started = time.perf_counter()
                out = engine.translate(texts, step.source, step.target)
                self._done[key] = (out, time.perf_counter() - started)
            texts, spent = self._done[key]
            seconds += spent
        return texts, seconds


def measure(rows: list[dict], router: Router) -> dict[tuple[str, str], list[Scored]]:
    chrf = CHRF()
    runner = RouteRunner(router)
    results: dict[tuple[str, str], list[Scored]] = {}
    for source in LANGUAGES:
        for target in LANGUAGES:
            if source == target:
                continue
            routes = router.candidates(source, target)
            if not routes:
                continue
            texts = [row[source] for row in rows]
            refs = [row[target] for row in rows]
            scored = []
            for route in routes:
                outputs, seconds = runner.run(route, texts)
                corpus = chrf.corpus_score(outputs, [refs]).score
                each = [
                    chrf.sentence_score(o, [r]).score for o, r in zip(outputs, refs, strict=True)
                ]
                scored.append(Scored(route, outputs, corpus, each, seconds))
            scored.sort(key=lambda s: -s.chrf)
            results[(source, target)] = scored
            best = scored[0]
            print(
                f"{source}>{target}: {len(scored)} routes, best {best.chrf:.1f} "
                f"({best.route.summary})",
                flush=True,
            )
    return results


def targets(results: dict[tuple[str, str], list[Scored]]) -> list[tuple[str, bool]]:
    """en<->pt: the neural step at least NEURAL_MARGIN chrF above the best Apertium route."""
    checks = []
    for pair in TARGET_PAIRS:
        scored = results.get(pair, [])
        neural = [s for s in scored if s.engines == "bergamot"]
        apertium = [s for s in scored if s.engines == "apertium"]
        name = f"{pair[0]}>{pair[1]} bergamot - apertium >= {NEURAL_MARGIN:.0f} chrF"
        if not neural or not apertium:
            checks.append((f"{name}: not measured (engine missing)", False))
            continue
        gap = neural[0].chrf - apertium[0].chrf
        checks.append((f"{name}: {gap:+.1f}", gap >= NEURAL_MARGIN))
    return checks


def differing(rows: list[dict], results: dict[tuple[str, str], list[Scored]]) -> list[dict]:
    """The sentences whose best and worst route differ most in chrF."""
    found = []
    for (source, target), scored in results.items():
        if len(scored) < 2:
            continue
        for i, row in enumerate(rows):
            values = [s.sentence_chrf[i] for s in scored]
            found.append(
                {
                    "pair": f"{source}>{target}",
                    "id": row["id"],
                    "gap": max(values) - min(values),
                    "source": row[source],
                    "reference": row[target],
                    "outputs": {s.route.summary: s.outputs[i] for s in scored},
                }
            )
    found.sort(key=lambda d: -d["gap"])
    return found[:DIFFERING]


def write(rows: list[dict], results, checks, engines: list[str]) -> None:
    pairs = {
        f"{s}>{t}": [
            {
                "route": x.route.summary,
                "engines": x.engines,
                "chrf": round(x.chrf, 2),
                "seconds": round(x.seconds, 3),
            }
            for x in scored
        ]
        for (s, t), scored in results.items()
    }
    most_differing = differing(rows, results)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "sentences": len(rows),
                "engines": engines,
                "pairs": pairs,
                "targets": [{"check": c, "pass": ok} for c, ok in checks],
                "differing": most_differing,
            },
            ensure_ascii=False,
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    scores = {pair: {r["route"]: r["chrf"] for r in routes} for pair, routes in pairs.items()}
    SCORES_FILE.write_text(json.dumps(scores, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    DOC.write_text(report(rows, results, checks, engines, most_differing), encoding="utf-8")


def report(rows, results, checks, engines: list[str], most_differing: list[dict]) -> str:
    lines = [
        "# Translation quality",
        "",
        "Written by `python -m bench.quality`; do not edit by hand.",
        "",
        f"chrF (sacrebleu, 0-100, higher is better) of every route the engines here can run "
        f"({', '.join(engines) or 'none'}) on the project's {len(rows)} everyday sentences "
        "(`bench/data/conversation.jsonl`: English and Spanish with references in fr, it, "
        "pt-BR and de). The router prefers the best-scored route of a pair "
        "(`services/translate/route_scores.json`, written by the same run).",
        "",
        "| pair | route | engines | chrF | seconds for the set |",
        "| --- | --- | --- | ---: | ---: |",
    ]
    for (source, target), scored in results.items():
        for x in scored:
            lines.append(
                f"| {source}>{target} | {x.route.summary} | {x.engines} | {x.chrf:.1f} | "
                f"{x.seconds:.2f} |"
            )
    unreached = [
        f"{s}>{t}" for s in LANGUAGES for t in LANGUAGES if s != t and (s, t) not in results
    ]
    if unreached:
        lines += ["", f"No route here: {', '.join(unreached)}."]
    lines += ["", "## Targets", ""]
    lines += [f"- {'PASS' if ok else 'FAIL'}: {check}" for check, ok in checks]
    lines += ["", "## Where routes differ most", ""]
    for d in most_differing:
        lines += [f"**{d['pair']}** ({d['id']}, chrF gap {d['gap']:.0f}): {d['source']}", ""]
        lines.append(f"- reference: {d['reference']}")
        lines += [f"- {route}: {out}" for route, out in d["outputs"].items()]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    rows = load_set()
    engines = build_engines(resolve(TranslateConfig))
    try:
        router = Router(engines, pivots=("es", "en"), max_steps=2)
        results = measure(rows, router)
    finally:
        for engine in engines:
            engine.close()
    checks = targets(results)
    names = [engine.name for engine in engines]
    write(rows, results, checks, names)
    print()
    for check, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {check}")
    print(f"\nwrote {DOC.relative_to(ROOT)} and {SCORES_FILE.relative_to(ROOT)}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
