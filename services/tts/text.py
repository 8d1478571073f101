"""Text before synthesis: symbols with no spoken form removed, then split into sentences.

Engines speak one sentence at a time, so that the first audio comes after the first sentence
and memory stays bounded whatever the length of the text. :func:`sentences` is lazy: it finds
the next boundary only when asked for the next sentence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

MAX_SENTENCE_CHARS = 300
"""A sentence longer than this is cut at a clause or a word boundary."""

# Symbols (Unicode category So) that engines read aloud: keep them.
_SPOKEN_SYMBOLS = frozenset("°©®™§¶№℃℉")
# Categories with no spoken form: other and modifier symbols (emoji, dingbats, skin tones),
# format characters (zero-width joiner), enclosing marks (keycaps), private use, unassigned.
_SILENT_CATEGORIES = frozenset({"So", "Sk", "Cf", "Co", "Cn", "Cs", "Me"})
_VARIATION_SELECTORS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
_SPACES = re.compile(r"[^\S\n]+")

# A sentence ends with . ! ? … then closing quotes or brackets, then white space; or with
# their CJK forms (no space needed); or at a blank line.
_BOUNDARY = re.compile(r"(?:[.!?…]+[\"'”’»)\]]*\s+)|(?:[。！？]+[」』）]*\s*)|(?:\n\s*\n\s*)")
_ABBREVIATION = re.compile(
    r"\b(?:mr|mrs|ms|dr|prof|sr|sra|jr|st|vs|etc|e\.g|i\.e|a\.m|p\.m|nr|hr|mme|z\.b|bzw|usw"
    r"|ca|ej|uds?)\.$",
    re.IGNORECASE,
)
_INITIAL = re.compile(r"(?:^|\s)[A-ZÀ-ÖØ-Þ]\.$")
_CLAUSE_END = re.compile(r"[,;:—–]\s")


def speakable(text: str) -> str:
    """``text`` without emoji, control characters and other symbols that have no spoken form.

    Markup is kept: it is read as text. Runs of spaces and tabs become one space.
    """
    text = _VARIATION_SELECTORS.sub("", unicodedata.normalize("NFC", text))
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char in _SPOKEN_SYMBOLS or char in "\n\t":
            kept.append(char)
        elif category == "Cc" or category == "Zl" or category == "Zp":
            kept.append(" ")
        elif category not in _SILENT_CATEGORIES:
            kept.append(char)
    return _SPACES.sub(" ", "".join(kept)).strip()


def has_words(text: str) -> bool:
    """True if ``text`` has a letter or a digit to speak."""
    return any(char.isalnum() for char in text)


def _cut_long(sentence: str, limit: int) -> Iterator[str]:
    """Cuts a sentence longer than ``limit`` at clause ends, else at spaces, else anywhere."""
    while len(sentence) > limit:
        window = sentence[:limit]
        clauses = list(_CLAUSE_END.finditer(window))
        if clauses and clauses[-1].end() > limit // 3:
            cut = clauses[-1].end()
        else:
            space = window.rfind(" ")
            cut = space + 1 if space > limit // 3 else limit
        head, sentence = sentence[:cut].strip(), sentence[cut:].strip()
        if head:
            yield head
    if sentence:
        yield sentence


FIRST_CLAUSE_CHARS = 8
"""Shortest first clause :func:`first_clause` cuts off."""
REST_CHARS = 20
"""Shortest rest of the sentence worth cutting a first clause from."""


def first_clause(sentence: str) -> tuple[str, str] | None:
    """``(first clause, rest)`` of a sentence, cut after its first comma, semicolon, colon or
    dash followed by a space, or None when that leaves a first clause under
    :data:`FIRST_CLAUSE_CHARS` or a rest under :data:`REST_CHARS` characters (nothing to gain)
    or the sentence has no such boundary. Only punctuation cuts: never a phrase in the middle.
    """
    for match in _CLAUSE_END.finditer(sentence):
        head, rest = sentence[: match.end()].strip(), sentence[match.end() :].strip()
        if len(rest) < REST_CHARS:
            return None
        if len(head) >= FIRST_CLAUSE_CHARS and has_words(head) and has_words(rest):
            return head, rest
    return None


def sentences(text: str, max_chars: int = MAX_SENTENCE_CHARS) -> Iterator[str]:
    """Yields the sentences of ``text`` in order, lazily, each at most ``max_chars`` long.

    Sentences with nothing to speak (only punctuation) are skipped. Abbreviations such as
    "Dr." and initials do not end a sentence.
    """
    start = 0
    for match in _BOUNDARY.finditer(text):
        candidate = text[start : match.end()].strip()
        if (
            _ABBREVIATION.search(candidate) or _INITIAL.search(candidate)
        ) and "\n\n" not in match.group():
            continue
        start = match.end()
        for part in _cut_long(candidate, max_chars):
            if has_words(part):
                yield part
    for part in _cut_long(text[start:].strip(), max_chars):
        if has_words(part):
            yield part
