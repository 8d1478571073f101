"""Words that open a clause or phrase, per language: where a sentence that runs on without
punctuation can be cut into pieces that still translate on their own.

Interpreters cut a long sentence before its conjunctions and subordinators ("... do their
homework | and then play football | until dinner is ready"); Whisper, on speech that does not
pause, often writes no comma there. Only whole words count, compared lower case without
punctuation; a language not listed has no openers (its run-ons are cut at the widest pause).
"""

from __future__ import annotations

OPENERS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "and but or so because until when while whereas whether which where although though "
        "unless if".split()
    ),
    "es": frozenset(
        "y e pero o u porque cuando mientras hasta donde aunque si pues entonces sino".split()
    ),
    "fr": frozenset("et mais ou donc parce quand lorsque pendant où si puis alors car".split()),
    "de": frozenset("und aber oder denn weil wenn als bis dass ob während obwohl sondern".split()),
    "it": frozenset("e ed ma o oppure perché quando mentre finché dove se poi quindi".split()),
    "pt": frozenset("e mas ou porque quando enquanto até onde se então".split()),
}


def opens_phrase(word_key: str, language: str | None) -> bool:
    """Whether a word (as :func:`services.stt.commit.key` writes it) opens a clause or phrase in
    ``language``."""
    return word_key in OPENERS.get(language or "", frozenset())
