"""Names and terms kept through translation: found in a text, marked for an engine, restored.

Engines with markup they skip mark a kept term with it (DeepL an ignored tag, an LLM ⟦ ⟧);
the others (Apertium, Bergamot, Marian, CTranslate2) see a placeholder name they copy. On the
project's sentences Apertium reads its sentence better around a placeholder than around a
superblank, its own way of passing text through. What is shared is finding the terms (whole
words, case-sensitive, longest first, never overlapping).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

MAX_TERMS = 100
MAX_TERM_CHARS = 100


def pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    """A regex finding any of ``terms`` as whole words, longest first; None for no terms."""
    distinct = sorted({t.strip() for t in terms if t.strip()}, key=lambda t: (-len(t), t))
    if not distinct:
        return None
    alternatives = "|".join(re.escape(term) for term in distinct)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def present(texts: Sequence[str], terms: Sequence[str]) -> list[str]:
    """The terms that occur in any of ``texts``, in order of first appearance."""
    found = pattern(terms)
    if found is None:
        return []
    return list(dict.fromkeys(m.group() for text in texts for m in found.finditer(text)))


def wrap(text: str, terms: Sequence[str], mark: Callable[[str], str]) -> str:
    """``text`` with every kept term replaced by ``mark(term)``; the rest is left to the
    caller (escaping around the marks is the engine's business)."""
    found = pattern(terms)
    return text if found is None else found.sub(lambda m: mark(m.group()), text)


class Placeholders:
    """Kept terms swapped for placeholders a neural model copies, and swapped back.

    A placeholder is a short made-up name (``Zorvan``, ``Kelmir``...): models trained on
    running text carry unknown proper names over unchanged far more reliably than symbols or
    numbers, which they reorder, translate or drop. A placeholder the model lost leaves its
    term missing; :func:`restore` reports which.
    """

    NAMES = (
        "Zorvan", "Kelmir", "Tavrik", "Quenzo", "Brivak", "Dolmar", "Fexlin", "Gorvik",
        "Halvek", "Jumrak", "Korvix", "Lenvar", "Mirzol", "Norvak", "Pelzir", "Rovkin",
    )  # fmt: skip

    def __init__(self, terms: Sequence[str]) -> None:
        self.terms = list(dict.fromkeys(terms))[: len(self.NAMES)]
        self._by_term = dict(zip(self.terms, self.NAMES, strict=False))

    def hide(self, text: str) -> str:
        return wrap(text, self.terms, lambda term: self._by_term.get(term, term))

    def restore(self, text: str) -> str:
        for term, name in self._by_term.items():
            text = re.sub(rf"(?<!\w){name}(?!\w)", lambda _m, term=term: term, text)
        return text
