"""Sentence splitting and batching for neural engines.

Neural models translate one sentence at a time well and have a token limit (512 for
opus-mt), so a long text is cut into sentences, every sentence of a batch of texts is
translated once in length-sorted batches, and each text is put back together with its own
spacing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

# A sentence ends at . ! ? (and their CJK forms) followed by space, or at a line break.
_BOUNDARY = re.compile(r"(?<=[.!?\u2026\u3002\uff01\uff1f])[ \t]+|\s*\n\s*")
_SPACE = re.compile(r"\s+")

MAX_CHARS = 400
# Longest input and output of a model call, in tokens (opus-mt models have 512 positions).
MAX_TOKENS = 512


def split(text: str, max_chars: int = MAX_CHARS) -> list[tuple[str, str]]:
    """Cuts ``text`` into (sentence, separator) pairs; joining them all gives ``text`` back.

    A leading blank becomes a first pair with an empty sentence. A sentence longer than
    ``max_chars`` is cut at spaces (or anywhere, if it has none) into pieces of at most
    ``max_chars``.
    """
    pieces: list[tuple[str, str]] = []
    stripped = text.lstrip()
    if len(stripped) < len(text):
        pieces.append(("", text[: len(text) - len(stripped)]))
    start = len(text) - len(stripped)
    for match in _BOUNDARY.finditer(text, start):
        if match.start() > start:
            pieces.extend(_cut(text[start : match.start()], match.group(), max_chars))
        elif pieces:
            pieces[-1] = (pieces[-1][0], pieces[-1][1] + match.group())
        start = match.end()
    if start < len(text):
        pieces.extend(_cut(text[start:], "", max_chars))
    return pieces


def _cut(sentence: str, separator: str, max_chars: int) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    while len(sentence) > max_chars:
        cut = sentence.rfind(" ", 0, max_chars + 1)
        if cut <= 0:
            out.append((sentence[:max_chars], ""))
            sentence = sentence[max_chars:]
        else:
            out.append((sentence[:cut], " "))
            sentence = sentence[cut + 1 :]
    trailing = len(sentence) - len(sentence.rstrip())
    if trailing:
        sentence, separator = sentence[:-trailing], sentence[-trailing:] + separator
    out.append((sentence, separator))
    return out


def translate_by_sentence(
    texts: Sequence[str],
    translate: Callable[[list[str]], list[str]],
    batch_size: int,
    max_chars: int = MAX_CHARS,
) -> list[str]:
    """Translates ``texts`` sentence by sentence.

    Args:
        texts: whole texts, any length.
        translate: translates a list of sentences (one model call), one output per input.
        batch_size: most sentences per call.
        max_chars: longest piece given to the model.

    Returns:
        One translation per text, each sentence followed by its original separator.
    """
    split_texts = [split(text, max_chars) for text in texts]
    distinct = sorted({s for pieces in split_texts for s, _ in pieces if s}, key=len)
    done: dict[str, str] = {}
    for first in range(0, len(distinct), batch_size):
        batch = distinct[first : first + batch_size]
        done.update(zip(batch, translate(batch), strict=True))
    return [
        "".join((done[s] if s else "") + separator for s, separator in pieces)
        for pieces in split_texts
    ]


def output_limit(input_tokens: int) -> int:
    """Most tokens kept of the output for an input of ``input_tokens`` tokens. Applied per
    sentence, so what a sentence becomes does not depend on the batch it came in."""
    return min(MAX_TOKENS, 2 * input_tokens + 10)


def clean(text: str) -> str:
    """Model output with runs of whitespace collapsed and the ends trimmed."""
    return _SPACE.sub(" ", text).strip()
