"""Routes: which engines translate a pair, directly or through pivot languages.

Where routes of a pair were measured (chrF on the project's conversation set, see
:mod:`route_scores`), the best-scored route that the running engines can take wins, unless the
preferred route uses an engine that was never measured (an API or LLM set up here). Otherwise
a direct pair wins over a pivot route; among routes of equal length, the one whose engines
rank best in the configured preference wins, then the one whose pivot languages rank best
(``es`` before ``en`` by default), then the alphabetical one, so the choice is stable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from parley.errors import InvalidInput, UnsupportedLanguage, quoted
from services.translate.engines.base import Engine
from services.translate.languages import Pair

Path = tuple[str, ...]
_ENGINE = re.compile(r"\((\w+)\)")


@dataclass(frozen=True)
class Step:
    """One hop of a route: one engine translating between two languages."""

    source: str
    target: str
    engine: str
    model: str = ""

    def __str__(self) -> str:
        return f"{self.source}>{self.target} ({self.engine})"


@dataclass(frozen=True)
class Route:
    """The steps translating a pair, in order; none when the target is the source."""

    steps: tuple[Step, ...] = ()

    @property
    def summary(self) -> str:
        """``en>es (apertium) > es>fr (apertium)``, or ``unchanged`` for no steps."""
        return " > ".join(map(str, self.steps)) or "unchanged"

    @property
    def direct(self) -> bool:
        """True for a single step."""
        return len(self.steps) == 1


UNCHANGED = Route()


class Router:
    """Picks a route for every pair the registered engines can reach.

    Args:
        engines: the registered engines, most preferred first.
        pivots: languages preferred as pivots, most preferred first.
        max_steps: most steps in a route.
        scores: measured chrF per pair and route summary; empty keeps to the preference.
    """

    def __init__(
        self,
        engines: Sequence[Engine],
        pivots: Sequence[str] = (),
        max_steps: int = 2,
        scores: Mapping[Pair, Mapping[str, float]] | None = None,
    ):
        self.engines = {engine.name: engine for engine in engines}
        self._scores = scores or {}
        # Engines with any measured route: an engine never measured (a DeepL account, an LLM
        # set up here) keeps its place in the preference, as no score can speak for it.
        self._measured = {
            name
            for routes in self._scores.values()
            for route in routes
            for name in _ENGINE.findall(route)
        }
        self._rank = {engine.name: rank for rank, engine in enumerate(engines)}
        self._pivots = {code: rank for rank, code in enumerate(pivots)}
        self._max_steps = max_steps
        # pair -> [(engine, model)], most preferred engine first
        self._edges: dict[Pair, list[tuple[str, str]]] = {}
        for engine in engines:
            for pair, model in sorted(engine.pairs().items()):
                self._edges.setdefault(pair, []).append((engine.name, model))
        self._out: dict[str, dict[str, list[tuple[str, str]]]] = {}
        for (source, target), served in self._edges.items():
            self._out.setdefault(source, {})[target] = served
        self.languages = sorted({code for pair in self._edges for code in pair})
        self._targets = {target for _, target in self._edges}
        self._found: dict[tuple[str, str, str, int], Route | None] = {}

    def direct_engines(self, pair: Pair) -> list[str]:
        """Every engine serving ``pair`` directly, most preferred first."""
        return [name for name, _ in self._edges.get(pair, [])]

    def route(self, source: str, target: str, engine: str = "", direct_only: bool = False) -> Route:
        """The route for a pair.

        Args:
            source: normalized source language.
            target: normalized target language.
            engine: use only this engine; empty lets every engine take part.
            direct_only: refuse pivot routes.

        Raises:
            InvalidInput: for an engine name that is not registered.
            UnsupportedLanguage: if no route exists; the message names the pairs available.
        """
        if engine and engine not in self.engines:
            raise InvalidInput(
                f"unknown engine {quoted(engine)}; engines available: "
                f"{', '.join(self.engines) or 'none'}"
            )
        if source == target:
            return UNCHANGED
        steps = 1 if direct_only else self._max_steps
        found = self.find(source, target, engine, steps)
        if found is None:
            raise UnsupportedLanguage(
                f"no {'direct ' if direct_only else ''}route from {source} to {target}"
                f"{f' with engine {engine}' if engine else ''}; pairs available: "
                f"{self.describe(engine, steps)}"
            )
        return found

    def find(self, source: str, target: str, engine: str = "", max_steps: int = 0) -> Route | None:
        """The best route of at most ``max_steps`` steps (default: the configured most), or
        None."""
        if source not in self._out or target not in self._targets:
            return None  # not cached: requests may name any code
        key = (source, target, engine, max_steps or self._max_steps)
        if key not in self._found:
            preferred = self._search(*key)
            unmeasured = preferred and any(
                step.engine not in self._measured for step in preferred.steps
            )
            best = None if engine or unmeasured else self._best_scored(source, target, key[3])
            self._found[key] = best or preferred
        return self._found[key]

    def score(self, route: Route) -> float | None:
        """The measured chrF of ``route``, or None."""
        if not route.steps:
            return None
        pair = (route.steps[0].source, route.steps[-1].target)
        return self._scores.get(pair, {}).get(route.summary)

    def _best_scored(self, source: str, target: str, max_steps: int) -> Route | None:
        measured = self._scores.get((source, target))
        if not measured:
            return None
        scored = [
            (measured[route.summary], -index, route)
            for index, route in enumerate(self.candidates(source, target, max_steps))
            if route.summary in measured
        ]
        return max(scored, key=lambda item: item[:2])[2] if scored else None

    def pairs(self, engine: str = "", max_steps: int = 0) -> list[tuple[Pair, Route]]:
        """Every reachable pair with its route, sorted by source then target."""
        out = []
        for source in self.languages:
            for target in self.languages:
                if source != target:
                    route = self.find(source, target, engine, max_steps)
                    if route is not None:
                        out.append(((source, target), route))
        return out

    def candidates(self, source: str, target: str, max_steps: int = 0) -> list[Route]:
        """Every route of at most ``max_steps`` steps (default: the configured most) from
        ``source`` to ``target``, each step by any engine serving it, shortest first."""
        found: list[Route] = []
        paths: list[Path] = [(source,)]
        for length in range(1, (max_steps or self._max_steps) + 1):
            longer: list[Path] = []
            for path in paths:
                for nxt in self._next(path[-1], ""):
                    if nxt == target:
                        found.extend(self._every_engine((*path, nxt)))
                    elif nxt not in path:
                        longer.append((*path, nxt))
            paths = longer if length < (max_steps or self._max_steps) else []
        return found

    def _every_engine(self, path: Path) -> list[Route]:
        routes: list[tuple[Step, ...]] = [()]
        for a, b in pairwise(path):
            hops = [Step(a, b, name, model) for name, model in self._edges[(a, b)]]
            routes = [(*steps, hop) for steps in routes for hop in hops]
        return [Route(steps) for steps in routes]

    def describe(self, engine: str = "", max_steps: int = 0) -> str:
        """Reachable pairs grouped by source: ``ca>en,es; en>ca,es,fr``."""
        grouped: dict[str, list[str]] = {}
        for (source, target), _ in self.pairs(engine, max_steps):
            grouped.setdefault(source, []).append(target)
        return "; ".join(f"{s}>{','.join(t)}" for s, t in grouped.items()) or "none"

    def _search(self, source: str, target: str, engine: str, max_steps: int) -> Route | None:
        """Breadth first: the shortest routes, then the best ranked among them."""
        frontier: list[Path] = [(source,)]
        for length in range(1, max_steps + 1):
            arrived: list[Path] = []
            extended: list[Path] = []
            for path in frontier:
                for nxt in self._next(path[-1], engine):
                    if nxt == target:
                        arrived.append((*path, nxt))
                    elif nxt not in path and length < max_steps:
                        extended.append((*path, nxt))
            if arrived:
                best = min(arrived, key=lambda p: self._score(p, engine))
                return Route(tuple(self._step(a, b, engine) for a, b in pairwise(best)))
            frontier = extended
        return None

    def _next(self, language: str, engine: str) -> list[str]:
        return sorted(
            target
            for target, served in self._out.get(language, {}).items()
            if not engine or any(name == engine for name, _ in served)
        )

    def _step(self, source: str, target: str, engine: str) -> Step:
        name, model = next(
            (name, model)
            for name, model in self._edges[(source, target)]
            if not engine or name == engine
        )
        return Step(source, target, name, model)

    def _score(self, path: Path, engine: str) -> tuple:
        engines = sum(self._rank[self._step(a, b, engine).engine] for a, b in pairwise(path))
        pivots = tuple(self._pivots.get(code, len(self._pivots)) for code in path[1:-1])
        return engines, pivots, path
