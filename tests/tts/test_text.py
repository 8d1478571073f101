"""Text preparation: what is spoken, and where sentences end."""

from __future__ import annotations

import itertools

from services.tts.text import first_clause, has_words, sentences, speakable


def test_emoji_and_symbols_without_a_spoken_form_are_removed():
    text = "Great 👍🏽 job 🎉! Family: 👨‍👩‍👧 flag 🇪🇸 keycap #️⃣ arrows → ★ done"
    assert speakable(text) == "Great job ! Family: flag keycap # arrows → done"
    assert speakable("20°C, © 2024, № 5™") == "20°C, © 2024, № 5™"
    assert not has_words(speakable("😀 👍 🎉 ✨"))


def test_markup_is_kept_as_text_and_spacing_normalised():
    assert speakable("<b>bold</b>\t&  <i>more</i>") == "<b>bold</b> & <i>more</i>"
    assert speakable("a\x00b\x07c\u200bd") == "a b cd"


def test_sentences_end_at_punctuation_not_at_abbreviations_or_decimals():
    text = "Dr. Smith paid $3.50 at 10 a.m. today. J. R. R. Tolkien wrote it! Really? Yes…  Fine"
    assert list(sentences(text)) == [
        "Dr. Smith paid $3.50 at 10 a.m. today.",
        "J. R. R. Tolkien wrote it!",
        "Really?",
        "Yes…",
        "Fine",
    ]


def test_quotes_and_blank_lines_and_cjk_punctuation():
    assert list(sentences('He said "stop." Then left.\n\nNew paragraph\nwith a break')) == [
        'He said "stop."',
        "Then left.",
        "New paragraph\nwith a break",
    ]
    assert list(sentences("你好。今天天气很好！")) == ["你好。", "今天天气很好！"]


def test_long_sentences_are_cut_at_clauses_then_words():
    clauses = "first part, " * 60
    parts = list(sentences(clauses, max_chars=100))
    assert all(len(p) <= 100 for p in parts)
    assert all(p.endswith(",") for p in parts[:-1])
    words = "word " * 200
    parts = list(sentences(words, max_chars=100))
    assert all(len(p) <= 100 and not p.startswith(" ") for p in parts)
    assert " ".join(parts).split() == words.split()
    assert list(sentences("x" * 250, max_chars=100)) == ["x" * 100, "x" * 100, "x" * 50]


def test_punctuation_only_pieces_are_skipped():
    assert list(sentences("... !!! ? Hello. ...")) == ["Hello."]


def test_sentences_are_produced_lazily():
    text = "One. " * 5_000
    first_three = list(itertools.islice(sentences(text), 3))
    assert first_three == ["One.", "One.", "One."]


def test_a_first_clause_is_cut_at_punctuation_only_when_both_parts_are_worth_it():
    assert first_clause("Por favor, envíame el informe antes del viernes.") == (
        "Por favor,",
        "envíame el informe antes del viernes.",
    )
    assert first_clause("Il a dit : non, merci beaucoup pour tout cela.") == (
        "Il a dit :",
        "non, merci beaucoup pour tout cela.",
    )
    # A first clause too short to matter joins the next one.
    assert first_clause("Ja, ich komme, aber erst morgen nach dem Essen.") == (
        "Ja, ich komme,",
        "aber erst morgen nach dem Essen.",
    )
    assert first_clause("It costs 1,000 euros, more or less, said the man.") == (
        "It costs 1,000 euros,",
        "more or less, said the man.",
    )
    assert first_clause("Yes, of course.") is None, "a short rest: nothing to gain"
    assert first_clause("Please send me the report before Friday.") is None, "no clause"
    assert first_clause("Sí, claro, por supuesto.") is None
