"""Batch translation: each distinct (text, route) once, shared route prefixes once, cached.

A request for ``en -> es, fr, it, pt`` routed through Spanish costs one ``en>es`` batch, then
the three ``es>...`` batches in parallel (each direction in its own worker thread), whatever the
number of texts and duplicates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

from parley.errors import EngineUnavailable, InvalidInput, ParleyError
from parley.logs import get_logger
from services.translate.cache import TranslationCache
from services.translate.keep import MAX_TERM_CHARS, MAX_TERMS, present
from services.translate.languages import requested
from services.translate.router import Route, Router, Step

log = get_logger(__name__)

Prefix = tuple[Step, ...]


@dataclass(frozen=True)
class Translation:
    """One translated text.

    Attributes:
        text_index: index of the source text in the request.
        target: language of the translation.
        text: the translation.
        route: how it was made.
        cached: True if it came from the cache of recent translations.
    """

    text_index: int
    target: str
    text: str
    route: Route
    cached: bool = False


class Translator:
    """Translates batches through the router's routes.

    Args:
        router: picks the route of each pair.
        cache: recent translations.
        executor: runs the blocking engine calls.
        max_text_chars: longest text accepted.
        max_request_chars: most characters one request asks to translate (its texts' length
            times its target languages); 0 for no limit.
    """

    def __init__(
        self,
        router: Router,
        cache: TranslationCache,
        executor: Executor,
        max_text_chars: int,
        max_request_chars: int = 0,
    ) -> None:
        self.router = router
        self.cache = cache
        self._executor = executor
        self._max_text_chars = max_text_chars
        self._max_request_chars = max_request_chars

    def routes(
        self, source: str, targets: Sequence[str], engine: str = "", direct_only: bool = False
    ) -> dict[str, Route]:
        """The route to each distinct target, in the order requested.

        Raises:
            InvalidInput: for a missing or malformed language or an unknown engine.
            UnsupportedLanguage: for a pair no route reaches.
        """
        source = requested(source, "source_language")
        if not targets:
            raise InvalidInput("target_languages is empty: give at least one language")
        codes = dict.fromkeys(requested(code, "target language") for code in targets)
        engine = engine.strip().lower()
        return {code: self.router.route(source, code, engine, direct_only) for code in codes}

    async def translate(
        self,
        texts: Sequence[str],
        source: str,
        targets: Sequence[str],
        engine: str = "",
        direct_only: bool = False,
        keep: Sequence[str] = (),
    ) -> list[Translation]:
        """Translates every text into every target, each of ``keep`` (names, terms) left as
        it is wherever it occurs as a whole word.

        Returns:
            One translation per (target, text), ordered by target as requested (duplicates
            removed), then by text index.

        Raises:
            InvalidInput: for bad languages, an unknown engine, or a text over the limit.
            UnsupportedLanguage: for a pair no route reaches.
            EngineUnavailable: if an engine on a route fails.
        """
        routes = self.routes(source, targets, engine, direct_only)
        self._check(texts)
        self._check_size(texts, len(routes))
        terms = _terms(keep)
        distinct = list(dict.fromkeys(texts))
        # A text's translation depends on the kept terms it holds, so they are in its key.
        kept = {text: tuple(present([text], terms)) for text in distinct}
        found: dict[tuple[Route, str], tuple[str, bool]] = {}
        jobs: dict[Route, list[str]] = {}
        for route in dict.fromkeys(routes.values()):
            for text in distinct:
                if not route.steps or not text.strip():
                    found[(route, text)] = (text, False)
                elif (hit := self.cache.get((route, text, kept[text]))) is not None:
                    found[(route, text)] = (hit, True)
                else:
                    jobs.setdefault(route, []).append(text)
        for (route, text), value in (await self._run(jobs, terms)).items():
            self.cache.put((route, text, kept[text]), value)
            found[(route, text)] = (value, False)
        out = []
        for target, route in routes.items():
            for index, text in enumerate(texts):
                value, cached = found[(route, text)]
                out.append(Translation(index, target, value, route, cached))
        return out

    def _check(self, texts: Sequence[str]) -> None:
        for index, text in enumerate(texts):
            if len(text) > self._max_text_chars:
                raise InvalidInput(
                    f"texts[{index}] has {len(text):,} characters; the limit is "
                    f"{self._max_text_chars:,} (PARLEY_TRANSLATE_MAX_TEXT_CHARS)"
                )
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InvalidInput(f"texts[{index}] is not valid UTF-8 text: {exc}") from None

    def _check_size(self, texts: Sequence[str], targets: int) -> None:
        chars = sum(len(text) for text in texts)
        if self._max_request_chars and chars * targets > self._max_request_chars:
            raise InvalidInput(
                f"this request asks for {chars * targets:,} characters of translation "
                f"({chars:,} characters of text x {targets} target languages); the limit is "
                f"{self._max_request_chars:,} (PARLEY_TRANSLATE_MAX_REQUEST_CHARS): split it"
            )

    async def _run(
        self, jobs: dict[Route, list[str]], terms: Sequence[str] = ()
    ) -> dict[tuple[Route, str], str]:
        """Runs every route's steps level by level; routes sharing a prefix share its work."""
        done: dict[tuple[Prefix, str], str] = {}
        depth = max((len(route.steps) for route in jobs), default=0)
        for level in range(depth):
            batches: dict[Prefix, dict[str, None]] = {}
            for route, texts in jobs.items():
                if len(route.steps) > level:
                    prefix = route.steps[: level + 1]
                    batch = batches.setdefault(prefix, {})
                    batch.update(dict.fromkeys(_inputs(done, prefix, texts)))
            outputs = await asyncio.gather(
                *(self._step(prefix[-1], list(batch), terms) for prefix, batch in batches.items())
            )
            results = {
                prefix: dict(zip(batch, out, strict=True))
                for (prefix, batch), out in zip(batches.items(), outputs, strict=True)
            }
            for route, texts in jobs.items():
                if len(route.steps) > level:
                    prefix = route.steps[: level + 1]
                    inputs = _inputs(done, prefix, texts)
                    for text, value in zip(texts, inputs, strict=True):
                        done[(prefix, text)] = results[prefix][value]
        return {
            (route, text): done[(route.steps, text)]
            for route, texts in jobs.items()
            for text in texts
        }

    async def _step(self, step: Step, texts: list[str], terms: Sequence[str] = ()) -> list[str]:
        """One engine call in a worker thread; blank texts pass through untouched."""
        todo = [text for text in texts if text.strip()]
        if not todo:
            return texts
        engine = self.router.engines[step.engine]
        keep = present(todo, terms)
        loop = asyncio.get_running_loop()
        try:
            if keep:
                out = await loop.run_in_executor(
                    self._executor, engine.translate_keeping, todo, step.source, step.target, keep
                )
            else:
                out = await loop.run_in_executor(
                    self._executor, engine.translate, todo, step.source, step.target
                )
        except ParleyError:
            raise
        except Exception as exc:  # an engine bug must not look like a bad request
            log.exception("engine failed", step=str(step))
            raise EngineUnavailable(f"{step.engine} failed on {step}: {exc}") from exc
        if len(out) != len(todo):
            raise EngineUnavailable(f"{step.engine} returned {len(out)} texts for {len(todo)}")
        translated = dict(zip(todo, out, strict=True))
        return [translated.get(text, text) for text in texts]

    async def preload(self, pairs: Sequence[tuple[str, str]] | None) -> None:
        """Makes ready every step of the routes of ``pairs`` (None: every direct pair of every
        engine): Apertium pipelines started, models loaded."""
        wanted: dict[str, list[tuple[str, str]]] = {}
        for name, engine in self.router.engines.items():
            if pairs is None:
                wanted[name] = list(engine.pairs())
        for source, target in pairs or ():
            route = self.router.find(source, target)
            for step in route.steps if route else ():
                wanted.setdefault(step.engine, []).append((step.source, step.target))
        loop = asyncio.get_running_loop()
        for name, engine_pairs in wanted.items():
            engine = self.router.engines[name]
            await loop.run_in_executor(self._executor, engine.start, engine_pairs)


def _terms(keep: Sequence[str]) -> list[str]:
    """The distinct non-blank terms of a request, checked against the limits."""
    if len(keep) > MAX_TERMS:
        raise InvalidInput(f"do_not_translate has {len(keep):,} terms; the limit is {MAX_TERMS}")
    terms = []
    for index, term in enumerate(keep):
        if len(term) > MAX_TERM_CHARS:
            raise InvalidInput(
                f"do_not_translate[{index}] has {len(term):,} characters; the limit is "
                f"{MAX_TERM_CHARS}"
            )
        if term.strip():
            terms.append(term.strip())
    return list(dict.fromkeys(terms))


def _inputs(done: dict[tuple[Prefix, str], str], prefix: Prefix, texts: list[str]) -> list[str]:
    """What each text has become just before the last step of ``prefix``."""
    if len(prefix) == 1:
        return texts
    return [done[(prefix[:-1], text)] for text in texts]
