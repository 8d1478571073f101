"""The TranslationService over gRPC, in-process on a free port, with the embedded Apertium."""

from __future__ import annotations

import grpc
import pytest

from parley.server import running
from parley.v1 import translate_pb2 as pb
from parley.v1 import translate_pb2_grpc
from services.translate.config import TranslateConfig
from services.translate.servicer import service
from tests.translate.conftest import SERVER

GREETING = "Good morning, how are you today?"


async def failure(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value


async def test_one_call_translates_into_four_languages_naming_each_route(stub):
    reply = await stub.Translate(
        pb.TranslateRequest(
            texts=[GREETING], source_language="en", target_languages=["es", "fr", "it", "pt"]
        ),
        timeout=30,
    )
    by_target = {t.target_language: t for t in reply.translations}
    assert [t.target_language for t in reply.translations] == ["es", "fr", "it", "pt"]
    assert "buen día" in by_target["es"].text.lower()
    assert "bonjour" in by_target["fr"].text.lower()
    assert "buongiorno" in by_target["it"].text.lower() and "oggi" in by_target["it"].text
    assert "hoje" in by_target["pt"].text
    assert by_target["es"].route.summary == "en>pt (bergamot) > pt>es (apertium)"
    assert by_target["pt"].route.summary == "en>pt (bergamot)"  # neural, packaged
    for target in ("fr", "it"):  # no direct en>fr/it pair is packaged: pivot via es
        route = by_target[target].route
        assert route.summary == f"en>es (apertium) > es>{target} (apertium)"
        assert [(s.source_language, s.target_language) for s in route.steps] == [
            ("en", "es"),
            ("es", target),
        ]
        assert route.steps[0].model == "apertium-eng-spa"


async def test_batch_order_duplicates_empty_text_and_cache_flag(stub):
    texts = ["The cat is black.", "", "The dog is white.", "The cat is black."]
    request = pb.TranslateRequest(texts=texts, source_language="en", target_languages=["es", "en"])
    first = await stub.Translate(request, timeout=30)
    assert [(t.target_language, t.text_index) for t in first.translations] == [
        (lang, i) for lang in ("es", "en") for i in range(4)
    ]
    es = first.translations[:4]
    assert "gato" in es[0].text and es[1].text == "" and "perro" in es[2].text
    assert es[3].text == es[0].text
    unchanged = first.translations[4:]
    assert [t.text for t in unchanged] == texts and unchanged[0].route.summary == "unchanged"
    assert not unchanged[0].route.steps
    second = await stub.Translate(request, timeout=30)
    assert second.translations[0].cached and second.translations[0].text == es[0].text


async def test_pivot_route_end_to_end_from_french_to_english(stub):
    reply = await stub.Translate(
        pb.TranslateRequest(
            texts=["Le chat mange du poisson."], source_language="fr", target_languages=["en"]
        ),
        timeout=30,
    )
    (translation,) = reply.translations
    assert translation.route.summary == "fr>es (apertium) > es>en (apertium)"
    assert "cat" in translation.text and "fish" in translation.text


async def test_unknown_pair_is_invalid_argument_naming_the_pairs(stub):
    error = await failure(
        stub.Translate(
            pb.TranslateRequest(texts=["Hi"], source_language="en", target_languages=["de"])
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no route from en to de" in error.details()
    assert "en>ca,es,fr" in error.details() and "es>" in error.details()
    direct = await failure(
        stub.Translate(
            pb.TranslateRequest(
                texts=["Hi"], source_language="en", target_languages=["fr"], direct_only=True
            )
        )
    )
    assert direct.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no direct route from en to fr" in direct.details()
    engine = await failure(
        stub.Translate(
            pb.TranslateRequest(
                texts=["Hi"], source_language="en", target_languages=["es"], engine="deepl"
            )
        )
    )
    assert "unknown engine 'deepl'; engines available: bergamot, apertium" in engine.details()


async def test_ten_thousand_characters_translate_and_the_limit_is_named(stub):
    text = "The house is big and the garden is green. " * 240
    assert len(text) >= 10_000
    reply = await stub.Translate(
        pb.TranslateRequest(texts=[text], source_language="en", target_languages=["es"]),
        timeout=60,
    )
    assert reply.translations[0].text.count("jardín") == 240
    error = await failure(
        stub.Translate(
            pb.TranslateRequest(texts=["x" * 50_001], source_language="en", target_languages=["es"])
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "50,001 characters; the limit is 50,000" in error.details()


async def test_bytes_that_are_not_utf8_are_invalid_argument(channel):
    # Raw bytes of a TranslateRequest: texts = [b"\xff\xfeA"], source "en", target "es".
    raw = channel.unary_unary("/parley.v1.TranslationService/Translate")
    error = await failure(raw(b"\x0a\x03\xff\xfeA\x12\x02en\x1a\x02es", timeout=10))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "bad UTF-8" in error.details() and "text fields must be valid UTF-8" in error.details()


async def test_list_language_pairs_shows_direct_and_pivot_routes(stub):
    reply = await stub.ListLanguagePairs(pb.ListLanguagePairsRequest(), timeout=10)
    pairs = {(p.source_language, p.target_language): p for p in reply.pairs}
    assert list(pairs) == sorted(pairs)
    es_it = pairs[("es", "it")]
    assert es_it.direct and list(es_it.engines) == ["apertium"]
    assert es_it.route.steps[0].model == "apertium-es-it" or "it" in es_it.route.steps[0].model
    # en>es is served directly by Apertium, but the measured best route goes through Bergamot.
    en_es = pairs[("en", "es")]
    assert list(en_es.engines) == ["apertium"] and not en_es.direct
    assert en_es.route.summary == "en>pt (bergamot) > pt>es (apertium)"
    assert 0 < en_es.quality_chrf <= 100
    assert not pairs[("en", "ca")].HasField("quality_chrf")  # never measured
    en_fr = pairs[("en", "fr")]
    assert not en_fr.direct and not en_fr.engines
    assert en_fr.route.summary == "en>es (apertium) > es>fr (apertium)"
    only = await stub.ListLanguagePairs(
        pb.ListLanguagePairsRequest(source_language="es", target_language="it"), timeout=10
    )
    assert [(p.source_language, p.target_language) for p in only.pairs] == [("es", "it")]


async def test_streaming_translates_segments_in_order(stub):
    segments = ["The cat is black.", "The dog eats bread.", "", "The house is red."]
    requests = [
        pb.StreamingTranslateRequest(
            config=pb.StreamingTranslateConfig(source_language="en", target_languages=["es", "fr"])
        ),
        *(
            pb.StreamingTranslateRequest(segment=pb.TextSegment(segment_id=str(i), text=text))
            for i, text in enumerate(segments)
        ),
    ]
    replies = [reply async for reply in stub.StreamingTranslate(iter(requests), timeout=30)]
    assert [r.segment_id for r in replies] == ["0", "1", "2", "3"]
    assert all([t.target_language for t in r.translations] == ["es", "fr"] for r in replies)
    assert "gato" in replies[0].translations[0].text
    assert "chat" in replies[0].translations[1].text
    assert "perro" in replies[1].translations[0].text
    assert replies[2].translations[0].text == ""
    assert "maison" in replies[3].translations[1].text
    assert replies[3].translations[1].route.summary == "en>es (apertium) > es>fr (apertium)"


@pytest.mark.parametrize(
    ("requests", "code", "message"),
    [
        (
            [pb.StreamingTranslateRequest(segment=pb.TextSegment(segment_id="1", text="Hi"))],
            grpc.StatusCode.FAILED_PRECONDITION,
            "the first message must be the config",
        ),
        (
            [
                pb.StreamingTranslateRequest(
                    config=pb.StreamingTranslateConfig(
                        source_language="en", target_languages=["de"]
                    )
                )
            ],
            grpc.StatusCode.INVALID_ARGUMENT,
            "no route from en to de",
        ),
        (
            [
                pb.StreamingTranslateRequest(
                    config=pb.StreamingTranslateConfig(
                        source_language="en", target_languages=["es"]
                    )
                ),
                pb.StreamingTranslateRequest(
                    config=pb.StreamingTranslateConfig(
                        source_language="en", target_languages=["es"]
                    )
                ),
            ],
            grpc.StatusCode.FAILED_PRECONDITION,
            "only the first",
        ),
    ],
)
async def test_streaming_errors(stub, requests, code, message):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in stub.StreamingTranslate(iter(requests), timeout=30):
            pass
    assert info.value.code() == code and message in info.value.details()


async def test_engine_restriction_and_preload():
    config = TranslateConfig(
        translate_engines="apertium", translate_preload="en-fr", translate_cache_size=0
    )
    async with running([service(config)], SERVER) as server:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = translate_pb2_grpc.TranslationServiceStub(channel)
            reply = await stub.Translate(
                pb.TranslateRequest(
                    texts=["The cat."], source_language="en", target_languages=["fr"],
                    engine="apertium",
                ),
                timeout=30,
            )  # fmt: skip
            assert "chat" in reply.translations[0].text
            assert not reply.translations[0].cached
