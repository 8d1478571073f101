"""The router: direct over pivot, engine preference, pivot preference, clear refusals."""

from __future__ import annotations

import pytest

from parley.errors import InvalidInput, UnsupportedLanguage
from services.translate import route_scores
from services.translate.router import Router
from tests.translate.counting import CountingEngine

APERTIUM = CountingEngine("apertium", ["en-es", "es-en", "es-fr", "fr-es", "en-ca", "ca-es"])
MARIAN = CountingEngine("marian", ["en-es", "en-de", "de-fr"])


def summary(router: Router, source: str, target: str, **kwargs) -> str:
    return router.route(source, target, **kwargs).summary


def test_direct_route_uses_the_most_preferred_engine():
    assert summary(Router([MARIAN, APERTIUM]), "en", "es") == "en>es (marian)"
    assert summary(Router([APERTIUM, MARIAN]), "en", "es") == "en>es (apertium)"
    router = Router([APERTIUM, MARIAN])
    assert router.direct_engines(("en", "es")) == ["apertium", "marian"]
    route = router.route("en", "es")
    assert route.direct and route.steps[0].model == "apertium-model"


def test_pivot_route_when_no_direct_pair():
    router = Router([APERTIUM], pivots=["es"])
    route = router.route("en", "fr")
    assert route.summary == "en>es (apertium) > es>fr (apertium)"
    assert not route.direct
    assert [(s.source, s.target) for s in route.steps] == [("en", "es"), ("es", "fr")]


def test_engine_preference_then_pivot_preference_pick_among_pivots():
    # en>fr via es (apertium, apertium) or via de (marian, marian): engines rank first
    assert "es>fr" in summary(Router([APERTIUM, MARIAN], pivots=["de"]), "en", "fr")
    assert "de>fr" in summary(Router([MARIAN, APERTIUM], pivots=["es"]), "en", "fr")
    # one engine both ways: the pivot preference decides, then the alphabet
    both = CountingEngine("both", ["en-es", "es-fr", "en-de", "de-fr"])
    assert "es>fr" in summary(Router([both], pivots=["es", "de"]), "en", "fr")
    assert "de>fr" in summary(Router([both], pivots=["de", "es"]), "en", "fr")
    assert "de>fr" in summary(Router([both]), "en", "fr")


def test_engine_restriction_and_direct_only():
    router = Router([MARIAN, APERTIUM])
    assert summary(router, "en", "es", engine="apertium") == "en>es (apertium)"
    assert summary(router, "en", "fr", engine="apertium").count("apertium") == 2
    with pytest.raises(UnsupportedLanguage, match="no direct route from en to fr"):
        router.route("en", "fr", direct_only=True)
    with pytest.raises(InvalidInput, match="unknown engine 'deepl'; engines available: marian"):
        router.route("en", "es", engine="deepl")


def test_routes_are_limited_in_length():
    # ca>es>fr fits in two steps; ca>es>en>... does not reach de within two
    router = Router([APERTIUM], max_steps=2)
    assert summary(router, "ca", "fr") == "ca>es (apertium) > es>fr (apertium)"
    assert router.find("ca", "de") is None
    assert Router([APERTIUM, MARIAN], max_steps=3).find("es", "de").summary == (
        "es>en (apertium) > en>de (marian)"
    )


def test_unknown_pair_names_the_pairs_available():
    router = Router([APERTIUM])
    with pytest.raises(UnsupportedLanguage) as info:
        router.route("en", "de")
    message = str(info.value)
    assert message.startswith("no route from en to de; pairs available: ")
    assert "en>ca,es,fr" in message and "fr>en,es" in message


def test_same_language_needs_no_route_and_pairs_lists_everything_reachable():
    router = Router([APERTIUM])
    assert router.route("xx", "xx").steps == ()
    pairs = dict(router.pairs())
    assert ("en", "fr") in pairs and ("ca", "fr") in pairs and ("en", "en") not in pairs
    assert list(pairs) == sorted(pairs)


def test_candidates_are_every_route_with_every_engine_shortest_first():
    router = Router([APERTIUM, MARIAN])
    assert [r.summary for r in router.candidates("en", "fr")] == [
        "en>de (marian) > de>fr (marian)",
        "en>es (apertium) > es>fr (apertium)",
        "en>es (marian) > es>fr (apertium)",
    ]
    assert [r.summary for r in router.candidates("en", "es")] == [
        "en>es (apertium)",
        "en>es (marian)",
        "en>ca (apertium) > ca>es (apertium)",
    ]
    assert router.candidates("en", "es", max_steps=1)[0].direct


def test_measured_quality_picks_the_route_even_over_a_direct_one():
    scores = {
        ("en", "es"): {"en>es (apertium)": 50.0, "en>es (marian)": 61.0},
        ("en", "fr"): {
            "en>es (apertium) > es>fr (apertium)": 40.0,
            "en>es (marian) > es>fr (apertium)": 44.5,
        },
    }
    router = Router([APERTIUM, MARIAN], pivots=["es"], scores=scores)
    assert summary(router, "en", "es") == "en>es (marian)"
    assert summary(router, "en", "fr") == "en>es (marian) > es>fr (apertium)"
    assert router.score(router.route("en", "fr")) == 44.5
    # A named engine, or a pair nobody measured, follows the preference as before.
    assert summary(router, "en", "es", engine="apertium") == "en>es (apertium)"
    assert summary(router, "en", "de") == "en>de (marian)"
    assert router.score(router.route("en", "de")) is None
    # A better-scored pivot beats a worse-scored direct step.
    pivot_wins = {
        ("en", "es"): {"en>es (apertium)": 30.0, "en>ca (apertium) > ca>es (apertium)": 35.0}
    }
    router = Router([APERTIUM], scores=pivot_wins)
    assert summary(router, "en", "es") == "en>ca (apertium) > ca>es (apertium)"


def test_an_engine_never_measured_keeps_its_place_in_the_preference():
    deepl = CountingEngine("deepl", ["en-es"])
    scores = {("en", "es"): {"en>es (apertium)": 50.0, "en>es (marian)": 61.0}}
    router = Router([deepl, APERTIUM, MARIAN], scores=scores)
    assert summary(router, "en", "es") == "en>es (deepl)"


def test_the_committed_scores_load_and_a_broken_file_means_none(tmp_path):
    scores = route_scores.load()
    assert scores[("en", "pt")], "python -m bench.quality writes the committed scores"
    assert all(0 <= chrf <= 100 for routes in scores.values() for chrf in routes.values())
    broken = tmp_path / "scores.json"
    broken.write_text("{not json")
    assert route_scores.load(broken) == {}
