"""Sentence splitting for the neural engines: lossless, bounded pieces."""

from __future__ import annotations

import pytest

from services.translate.engines.sentences import split, translate_by_sentence


@pytest.mark.parametrize(
    "text",
    [
        "Hello. How are you?  Fine!",
        "  leading blank. Then more",
        "one\n\ntwo.\n",
        "x" * 950,
        ("word " * 300).strip(),
        "...",
        " ",
        "¿Qué tal? Bien.",
    ],
)
def test_split_is_lossless_and_bounded(text):
    pieces = split(text, max_chars=400)
    assert "".join(s + sep for s, sep in pieces) == text
    assert all(len(s) <= 400 and s == s.strip() for s, _ in pieces)


def test_sentences_are_translated_once_and_reassembled():
    calls = []

    def upper(batch):
        calls.append(list(batch))
        return [s.upper() for s in batch]

    texts = ["Hi. Hi.\nBye!", "Hi."]
    assert translate_by_sentence(texts, upper, batch_size=1) == ["HI. HI.\nBYE!", "HI."]
    assert sorted(calls) == [["Bye!"], ["Hi."]]
