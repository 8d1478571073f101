"""MarianMT and CTranslate2 engines on a tiny Marian model built and saved here.

The model's weights are random, so its output is gibberish; what these tests prove is that the
engines' real loading, tokenization, batched generation and reassembly code works on a folder
laid out like a real opus-mt model (and its CTranslate2 conversion).
"""

from __future__ import annotations

import grpc
import pytest

from parley.errors import EngineUnavailable, UnsupportedLanguage
from parley.server import running
from parley.settings import SettingsError
from parley.v1 import translate_pb2 as pb
from parley.v1 import translate_pb2_grpc
from services.translate.config import TranslateConfig
from services.translate.engines.ct2 import Ct2Engine, detokenize
from services.translate.engines.marian import MarianEngine
from services.translate.servicer import service
from tests.translate.conftest import SERVER
from tests.translate.tiny_models import SENTENCES, build_marian, convert_ct2

TEXTS = ["Good morning, how are you today?", "The cat is on the table.", "Hello"]


@pytest.fixture(scope="session")
def marian_folder(tmp_path_factory):
    return build_marian(tmp_path_factory.mktemp("models") / "opus-mt-en-de")


@pytest.fixture(scope="session")
def ct2_folder(marian_folder, tmp_path_factory):
    return convert_ct2(marian_folder, tmp_path_factory.mktemp("models") / "opus-mt-en-de-ct2")


# Greedy decoding, so that a batch's output can be compared with one-by-one output (beam
# search's pick at the length limit may differ); beams are exercised through the service.
@pytest.fixture(scope="session")
def marian(marian_folder):
    return MarianEngine({("en", "de"): str(marian_folder)}, beam_size=1, batch_size=2)


@pytest.fixture(scope="session")
def ct2(ct2_folder):
    return Ct2Engine(
        {("en", "de"): str(ct2_folder)}, compute_type="float32", beam_size=1, batch_size=2
    )


def test_the_tiny_model_has_the_opus_mt_layout(marian_folder, ct2_folder):
    names = {path.name for path in marian_folder.iterdir()}
    assert {"config.json", "model.safetensors", "source.spm", "target.spm", "vocab.json"} <= names
    assert {"model.bin", "source.spm"} <= {path.name for path in ct2_folder.iterdir()}


@pytest.mark.parametrize("engine_name", ["marian", "ct2"])
def test_batched_generation_matches_one_by_one(request, engine_name):
    engine = request.getfixturevalue(engine_name)
    assert engine.pairs() == {("en", "de"): engine.pairs()[("en", "de")]}
    batched = engine.translate(TEXTS, "en", "de")
    assert len(batched) == len(TEXTS)
    assert all(isinstance(text, str) and text == text.strip() for text in batched)
    assert any(batched)
    assert [engine.translate([text], "en", "de")[0] for text in TEXTS] == batched


@pytest.mark.parametrize("engine_name", ["marian", "ct2"])
def test_long_texts_are_cut_into_sentences_and_put_back(request, engine_name):
    engine = request.getfixturevalue(engine_name)
    text = "\n".join(SENTENCES[:4]) + "\n\n" + " ".join(SENTENCES[:3])
    (translated,) = engine.translate([text], "en", "de")
    # each sentence translated alone, the line breaks kept where they were
    assert translated.count("\n") == text.count("\n")
    first_line = engine.translate([SENTENCES[0]], "en", "de")[0]
    assert translated.split("\n")[0] == first_line
    ten_thousand = "The cat is on the table. " * 400
    (long,) = engine.translate([ten_thousand.strip()], "en", "de")
    assert isinstance(long, str) and long


def test_marian_and_ctranslate2_decode_alike(marian, ct2):
    # The same weights, greedy, in float32: both engines must tokenize, decode and
    # detokenize the same way.
    assert marian.translate(TEXTS, "en", "de") == ct2.translate(TEXTS, "en", "de")


def test_missing_pairs_and_broken_folders_are_clear(tmp_path, marian):
    with pytest.raises(UnsupportedLanguage, match="marian has no model for en>fr"):
        marian.translate(["x"], "en", "fr")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(EngineUnavailable, match="cannot load the Marian model"):
        MarianEngine({("en", "fr"): str(tmp_path)}).translate(["x"], "en", "fr")
    with pytest.raises(EngineUnavailable, match="no source.spm"):
        Ct2Engine({("en", "fr"): str(tmp_path)}).translate(["x"], "en", "fr")
    with pytest.raises(SettingsError, match="does not exist"):
        TranslateConfig(translate_ctranslate2_models=f"en-fr={tmp_path / 'missing'}")


def test_detokenize_joins_sentencepiece_pieces():
    assert detokenize(["\u2581Guten", "\u2581Mor", "gen", "</s>"]) == "Guten Morgen"


async def test_service_routes_through_configured_neural_engines(marian_folder, ct2_folder):
    config = TranslateConfig(
        translate_engines="marian,ctranslate2,apertium",
        translate_marian_models=f"en-de={marian_folder}",
        translate_ctranslate2_models=f"de-en={ct2_folder}",
        translate_preload="en-de",
    )
    async with running([service(config)], SERVER) as server:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = translate_pb2_grpc.TranslationServiceStub(channel)
            reply = await stub.Translate(
                pb.TranslateRequest(
                    texts=TEXTS, source_language="es", target_languages=["de", "en"]
                ),
                timeout=60,
            )
            routes = {t.target_language: t.route for t in reply.translations}
            assert routes["de"].summary == "es>en (apertium) > en>de (marian)"
            assert routes["de"].steps[1].model == "opus-mt-en-de"
            assert routes["en"].summary == "es>en (apertium)"
            back = await stub.Translate(
                pb.TranslateRequest(
                    texts=["Guten Morgen"], source_language="de", target_languages=["es"]
                ),
                timeout=60,
            )
            assert back.translations[0].route.summary == ("de>en (ctranslate2) > en>es (apertium)")
            pairs = await stub.ListLanguagePairs(
                pb.ListLanguagePairsRequest(source_language="en", target_language="de")
            )
            assert list(pairs.pairs[0].engines) == ["marian"]
