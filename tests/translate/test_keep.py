"""Names and terms kept through every engine and route: real Apertium and Bergamot, direct and
pivot, through the service."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest

from parley.v1 import translate_pb2 as pb
from services.translate import keep

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = ["Rose", "Mark", "Carmen", "Pedro", "Aisha", "Kenji", "Olga", "Grace", "Bill", "Will"]


def names_set() -> list[dict]:
    """Sentences of the conversation set that name people, with the names in each."""
    rows = [json.loads(line) for line in (ROOT / "bench/data/conversation.jsonl").open()]
    out = []
    for row in rows:
        names = [name for name in PEOPLE if keep.present([row["en"]], [name])]
        if names and all(keep.present([row["es"]], [name]) for name in names):
            out.append({**row, "names": names})
    return out


def test_terms_are_found_as_whole_words_longest_first():
    terms = ["Rose", "Rose Mary", "Ann"]
    assert keep.present(["Rose Mary and Anne met Rose; Ann too."], terms) == [
        "Rose Mary",
        "Rose",
        "Ann",
    ]
    assert keep.wrap("Tell Rose.", ["Rose"], lambda term: f"<{term}>") == "Tell <Rose>."
    assert keep.present(["Roses are red"], ["Rose"]) == []


def test_placeholders_go_and_come_back():
    holders = keep.Placeholders(["Rose", "Mark"])
    hidden = holders.hide("Tell Rose that Mark called.")
    assert "Rose" not in hidden and "Mark" not in hidden
    assert holders.restore(hidden) == "Tell Rose that Mark called."


async def test_names_are_kept_into_every_language_direct_and_pivot(stub):
    text = "Please tell Rose that Mark will call her at nine."
    plain = await stub.Translate(
        pb.TranslateRequest(texts=[text], source_language="en", target_languages=["es", "fr"])
    )
    # Without the list, Apertium reads the names as words ("rosa", "marca").
    assert not all("Rose" in t.text and "Mark" in t.text for t in plain.translations)
    kept = await stub.Translate(
        pb.TranslateRequest(
            texts=[text],
            source_language="en",
            target_languages=["es", "fr", "it", "pt"],
            do_not_translate=["Rose", "Mark"],
        )
    )
    routes = {t.target_language: t.route.summary for t in kept.translations}
    assert "bergamot" in routes["pt"] and ">es" in routes["fr"]  # neural, and a pivot
    for t in kept.translations:
        assert "Rose" in t.text and "Mark" in t.text, (t.target_language, t.text)
        assert t.text != text  # translated all the same
    back = await stub.Translate(
        pb.TranslateRequest(
            texts=["Diga a Rose que o Mark vai ligar para ela às nove."],
            source_language="pt",
            target_languages=["en", "es", "fr"],
            do_not_translate=["Rose", "Mark"],
        )
    )
    for t in back.translations:
        assert "Rose" in t.text and "Mark" in t.text, (t.target_language, t.text)


async def test_every_name_of_the_names_set_is_kept_by_every_route(stub):
    rows = names_set()
    assert len(rows) >= 15
    for source, targets in (("en", ["es", "fr", "it", "pt"]), ("es", ["en", "fr", "it", "pt"])):
        names = sorted({name for row in rows for name in row["names"]})
        reply = await stub.Translate(
            pb.TranslateRequest(
                texts=[row[source] for row in rows],
                source_language=source,
                target_languages=targets,
                do_not_translate=names,
            )
        )
        lost = [
            (t.target_language, t.route.summary, rows[t.text_index]["names"], t.text)
            for t in reply.translations
            if not all(name in t.text for name in rows[t.text_index]["names"])
        ]
        assert lost == [], lost


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        (["x"] * 101, "do_not_translate has 101 terms; the limit is 100"),
        (["y" * 101], "do_not_translate[0] has 101 characters; the limit is 100"),
    ],
)
async def test_term_lists_are_bounded(stub, terms, message):
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.Translate(
            pb.TranslateRequest(
                texts=["Hello"],
                source_language="en",
                target_languages=["es"],
                do_not_translate=terms,
            )
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in refused.value.details()
