"""Batch orchestration: each distinct (text, route) once, shared pivots once, the cache, faults.

These count calls on a recording engine: they are about orchestration, not translation.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from parley.errors import EngineUnavailable, InvalidInput, UnsupportedLanguage
from services.translate.cache import TranslationCache
from services.translate.router import Router
from services.translate.translator import Translator
from tests.translate.counting import CountingEngine

PAIRS = ["en-es", "es-en", "es-fr", "es-it", "es-pt"]


@pytest.fixture(scope="module")
def executor():
    with ThreadPoolExecutor(4) as pool:
        yield pool


def make(executor, engine=None, cache_size=100, max_chars=50_000):
    engine = engine or CountingEngine("rec", PAIRS)
    router = Router([engine], pivots=["es"])
    return Translator(router, TranslationCache(cache_size), executor, max_chars), engine


async def test_each_distinct_text_and_step_is_translated_once(executor):
    translator, engine = make(executor)
    texts = ["Hello", "Bye", "Hello", ""]
    results = await translator.translate(texts, "en", ["es", "fr", "it", "pt", "fr"])
    # en>es once for the two distinct non-empty texts, then one call per pivot target
    calls = {(source, target): batch for source, target, batch in engine.calls}
    assert len(engine.calls) == len(calls) == 4
    assert calls[("en", "es")] == ["Hello", "Bye"]
    for target in ("fr", "it", "pt"):
        assert calls[("es", target)] == ["Hello|en>es", "Bye|en>es"]
    assert [(r.target, r.text_index) for r in results] == [
        (t, i) for t in ("es", "fr", "it", "pt") for i in range(4)
    ]
    by_key = {(r.target, r.text_index): r for r in results}
    assert by_key[("fr", 0)].text == "Hello|en>es|es>fr"
    assert by_key[("fr", 2)].text == by_key[("fr", 0)].text
    assert by_key[("fr", 3)].text == ""
    assert by_key[("fr", 0)].route.summary == "en>es (rec) > es>fr (rec)"
    assert not any(r.cached for r in results)


async def test_repeated_requests_come_from_the_cache(executor):
    translator, engine = make(executor)
    await translator.translate(["Hello"], "en", ["es", "fr"])
    calls = len(engine.calls)
    again = await translator.translate(["Hello", "New"], "en", ["es", "fr"])
    assert [r.cached for r in again] == [True, False, True, False]
    assert [(s, t, batch) for s, t, batch in engine.calls[calls:]] == [
        ("en", "es", ["New"]),
        ("es", "fr", ["New|en>es"]),
    ]


async def test_the_cache_is_bounded_and_can_be_off(executor):
    cache = TranslationCache(2)
    for key in "abc":
        cache.put(key, key.upper())
    assert len(cache) == 2 and cache.get("a") is None and cache.get("c") == "C"
    cache.put("long", "x" * 5_000)
    assert cache.get("long") is None
    translator, engine = make(executor, cache_size=0)
    await translator.translate(["Hello"], "en", ["es"])
    await translator.translate(["Hello"], "en", ["es"])
    assert len(engine.calls) == 2


async def test_same_language_returns_the_text_without_an_engine(executor):
    translator, engine = make(executor)
    (result,) = await translator.translate(["Hola"], "ES", ["es"])
    assert result.text == "Hola" and result.route.summary == "unchanged" and not engine.calls


async def test_bad_requests_are_refused_before_any_work(executor):
    translator, engine = make(executor, max_chars=100)
    with pytest.raises(InvalidInput, match="source_language is empty"):
        await translator.translate(["x"], "", ["es"])
    with pytest.raises(InvalidInput, match="target_languages is empty"):
        await translator.translate(["x"], "en", [])
    with pytest.raises(InvalidInput, match="'english' is not an ISO 639-1"):
        await translator.translate(["x"], "english", ["es"])
    with pytest.raises(InvalidInput, match=r"texts\[1\] has 101 characters; the limit is 100"):
        await translator.translate(["ok", "x" * 101], "en", ["es"])
    with pytest.raises(InvalidInput, match=r"texts\[0\] is not valid UTF-8"):
        await translator.translate(["bad \udcff surrogate"], "en", ["es"])
    with pytest.raises(UnsupportedLanguage, match="no route from en to de"):
        await translator.translate(["x"], "en", ["de"])
    assert not engine.calls


async def test_an_engine_failure_is_unavailable_and_names_the_step(executor):
    translator, _ = make(executor, CountingEngine("rec", PAIRS, error=EngineUnavailable("down")))
    with pytest.raises(EngineUnavailable, match="down"):
        await translator.translate(["Hello"], "en", ["fr"])
    translator, _ = make(executor, CountingEngine("rec", PAIRS, error=RuntimeError("bug")))
    with pytest.raises(EngineUnavailable, match=r"rec failed on en>es \(rec\): bug"):
        await translator.translate(["Hello"], "en", ["es"])


async def test_preload_starts_every_step_of_the_routes_asked(executor):
    started = []

    class Starting(CountingEngine):
        def start(self, pairs=()):
            started.extend(pairs)

    translator, _ = make(executor, Starting("rec", PAIRS))
    await translator.preload([("en", "fr")])
    assert started == [("en", "es"), ("es", "fr")]
    started.clear()
    await translator.preload(None)
    assert sorted(started) == sorted(tuple(p.split("-")) for p in PAIRS)
