"""Plain text to Apertium's stream format and back (what ``apertium-destxt``/``-retxt`` do).

In the stream, ``\\ [ ] ^ $ @ / < > { }`` are syntax and must be escaped with a backslash;
text in ``[...]`` is a "superblank" that passes through untranslated. Newlines go in
superblanks (so they survive) and so does ``~``, which the generator would otherwise read as a
post-generation mark and drop.
"""

from __future__ import annotations

_ESCAPED = frozenset("\\[]^$@/<>{}")
_BLANKED = frozenset("~\n\r")

# Ends every text: the last word needs a blank after it before the NUL, or some stages
# (lt-proc) hold it back waiting for more input.
END = "[]"


def escape(text: str) -> str:
    """``text`` as an Apertium stream, NUL characters removed (NUL ends a text)."""
    out: list[str] = []
    blank: list[str] = []
    for char in text:
        if char in _BLANKED:
            blank.append(char)
            continue
        if blank:
            out.append("[" + "".join(blank) + "]")
            blank = []
        if char in _ESCAPED:
            out.append("\\" + char)
        elif char != "\0":
            out.append(char)
    if blank:
        out.append("[" + "".join(blank) + "]")
    return "".join(out)


def unescape(stream: str) -> str:
    """Plain text from a translated Apertium stream: superblanks opened, escapes removed.

    Word-bound blanks (``[[...]]``) carry formatting only and are dropped.
    """
    out: list[str] = []
    i, size = 0, len(stream)
    while i < size:
        char = stream[i]
        if char == "\\" and i + 1 < size:
            out.append(stream[i + 1])
            i += 2
        elif char == "[" and stream.startswith("[[", i):
            end = stream.find("]]", i + 2)
            i = size if end < 0 else end + 2
        elif char == "[":
            i = _superblank(stream, i + 1, out)
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _superblank(stream: str, i: int, out: list[str]) -> int:
    """Copies a superblank's content starting at ``i`` into ``out``; returns the index after
    its closing bracket."""
    size = len(stream)
    while i < size:
        char = stream[i]
        if char == "\\" and i + 1 < size:
            out.append(stream[i + 1])
            i += 2
        elif char == "]":
            return i + 1
        else:
            out.append(char)
            i += 1
    return i


def tidy(source: str, translated: str) -> str:
    """Gives ``translated`` the leading and trailing whitespace of ``source``, and its
    capital first letter.

    Dropped words leave their blanks behind ("I have" becomes " Tengo" in Spanish).
    """
    if not source[:1].isspace():
        translated = translated.lstrip()
    if not source[-1:].isspace():
        translated = translated.rstrip()
    # A multiword at the start ("Bom dia" -> "buen día") loses the capital of its first word.
    head = source.lstrip()[:1]
    start = len(translated) - len(translated.lstrip())
    if head.isupper() and translated[start : start + 1].islower():
        translated = translated[:start] + translated[start].upper() + translated[start + 1 :]
    return translated
