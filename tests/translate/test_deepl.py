"""The DeepL engine against a local server that speaks DeepL's API v2 contract."""

from __future__ import annotations

import grpc
import pytest

from parley.errors import EngineUnavailable, InvalidInput, UnsupportedLanguage
from parley.server import running
from parley.v1 import translate_pb2 as pb
from parley.v1 import translate_pb2_grpc
from services.translate.config import TranslateConfig
from services.translate.engines.deepl import FREE_URL, PRO_URL, DeepLEngine, default_url
from services.translate.registry import build_engines
from services.translate.servicer import service
from tests.translate.conftest import SERVER
from tests.translate.fake_deepl import fake_deepl

KEY = "test-key:fx"


@pytest.fixture
def deepl():
    with fake_deepl(KEY) as (url, state):
        engine = DeepLEngine(KEY, url, timeout_s=5, retry_delays=(0.01, 0.01))
        engine.discover()
        yield engine, state
        engine.close()


def test_languages_are_discovered_with_regional_targets(deepl):
    engine, state = deepl
    pairs = engine.pairs()
    assert ("en", "de") in pairs and ("de", "en") in pairs and ("ja", "pt") in pairs
    assert ("en", "en") not in pairs
    assert [r["type"] for r in state.requests] == ["source", "target"]
    assert all(r["headers"]["Authorization"] == f"DeepL-Auth-Key {KEY}" for r in state.requests)


def test_translate_sends_deepls_request_shape(deepl):
    engine, state = deepl
    assert engine.translate(["Good morning", "The cat"], "en", "de") == [
        "guten morgen",
        "die katze",
    ]
    body = state.requests[-1]["body"]
    assert body == {"text": ["Good morning", "The cat"], "source_lang": "EN", "target_lang": "DE"}
    assert state.requests[-1]["path"] == "/v2/translate"
    # English and Portuguese targets need a regional variant
    assert engine.translate(["Katze"], "de", "en") == ["cat"]
    assert state.requests[-1]["body"]["target_lang"] == "EN-US"
    engine.translate(["Olá"], "es", "pt")
    assert state.requests[-1]["body"]["target_lang"] == "PT-PT"


def test_more_than_fifty_texts_are_sent_in_chunks(deepl):
    engine, state = deepl
    texts = [f"house {i}" for i in range(120)]
    out = engine.translate(texts, "en", "fr")
    assert out == [f"maison {i}" for i in range(120)]
    sizes = [len(r["body"]["text"]) for r in state.requests if r["method"] == "POST"]
    assert sizes == [50, 50, 20]


def test_rate_limits_are_retried_then_errors_are_typed(deepl):
    engine, state = deepl
    state.fail_next = [429, 503]
    assert engine.translate(["cat"], "en", "de") == ["katze"]
    state.fail_next = [456]
    with pytest.raises(EngineUnavailable, match="quota exceeded"):
        engine.translate(["cat"], "en", "de")
    state.fail_next = [400]
    with pytest.raises(InvalidInput, match="DeepL rejected the request"):
        engine.translate(["cat"], "en", "de")
    state.fail_next = [500, 500, 500]
    with pytest.raises(EngineUnavailable, match="DeepL answered 500"):
        engine.translate(["cat"], "en", "de")
    with pytest.raises(UnsupportedLanguage, match="deepl does not translate en>xx"):
        engine.translate(["cat"], "en", "xx")


def test_a_wrong_key_or_a_dead_server_is_unavailable():
    with fake_deepl(KEY) as (url, _):
        with pytest.raises(EngineUnavailable, match="refused the API key"):
            DeepLEngine("wrong", url).discover()
    with pytest.raises(EngineUnavailable, match="unreachable"):
        DeepLEngine(KEY, url, timeout_s=2).discover()  # the server is gone


def test_default_host_follows_the_key_kind():
    assert default_url("abc:fx") == FREE_URL
    assert default_url("abc") == PRO_URL


def test_registered_only_with_a_key_that_works():
    with fake_deepl(KEY) as (url, _):
        names = [e.name for e in build_engines(TranslateConfig(translate_deepl_api_url=url))]
        assert "deepl" not in names and "apertium" in names
        config = TranslateConfig(translate_deepl_api_key=KEY, translate_deepl_api_url=url)
        assert KEY not in repr(config)
        engines = build_engines(config)
        assert [e.name for e in engines] == ["deepl", "bergamot", "apertium"]
        for engine in engines:
            engine.close()
        bad = build_engines(
            TranslateConfig(translate_deepl_api_key="wrong", translate_deepl_api_url=url)
        )
        assert [e.name for e in bad] == ["bergamot", "apertium"]


async def test_service_prefers_deepl_and_falls_back_to_apertium_by_request():
    with fake_deepl(KEY) as (url, _):
        config = TranslateConfig(translate_deepl_api_key=KEY, translate_deepl_api_url=url)
        async with running([service(config)], SERVER) as server:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                stub = translate_pb2_grpc.TranslationServiceStub(channel)
                request = pb.TranslateRequest(
                    texts=["Good morning"], source_language="en", target_languages=["de", "ca"]
                )
                reply = await stub.Translate(request, timeout=30)
                de, ca = reply.translations
                assert de.text == "guten morgen" and de.route.summary == "en>de (deepl)"
                # DeepL has no Catalan here: Apertium serves it directly
                assert ca.route.summary == "en>ca (apertium)" and "bon dia" in ca.text.lower()
                request.engine = "apertium"
                request.target_languages[:] = ["ca"]
                reply = await stub.Translate(request, timeout=30)
                assert reply.translations[0].route.summary == "en>ca (apertium)"


def test_kept_names_travel_in_an_ignored_tag_and_markup_survives(deepl):
    engine, state = deepl
    assert engine.translate(["Tell Mark the house"], "en", "fr") == ["Tell marque le maison"]
    kept = engine.translate_keeping(["Tell Mark the house & <b>"], "en", "fr", ["Mark"])
    assert kept == ["Tell Mark le maison & <b>"]
    sent = state.requests[-1]["body"]
    assert sent["tag_handling"] == "xml" and sent["ignore_tags"] == ["keep"]
    assert sent["text"] == ["Tell <keep>Mark</keep> the house &amp; &lt;b&gt;"]
