"""How much of Whisper's 30-second window a call encodes, and the checks on what comes out.

Whisper pads every input to 30 s (3000 log-mel frames) and its encoder pays for all of them.
CTranslate2 accepts fewer frames, so a call may encode only its audio and a margin: a 4 s
utterance then costs a fifth of the encoder time. Decoding from such a window runs away more
often (the text repeated until the token limit) and, where the speech is unclear, guesses
differently; :func:`suspect` names the symptoms, and the engine decodes such a call again with
the full window. Pure logic, no model: tested on its own.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

FULL_FRAMES = 3000  # Whisper's 30 s window, 100 log-mel frames a second
FRAMES_PER_SECOND = 100
FIT, FULL = "fit", "full"

_WORD = re.compile(r"\w+(?:['’]\w+)*")
# One to four letters over and over inside a word ("glichototototototo..."): a loop in
# Whisper's sub-word tokens, which no language spells (numbers are left alone).
_LETTER_LOOP = re.compile(r"([^\W\d_]{1,4}?)\1{5,}")


@dataclass(frozen=True)
class WindowPolicy:
    """The window each Whisper call encodes.

    Attributes:
        mode: ``fit`` (the audio plus a margin) or ``full`` (always 30 s, Whisper's own way).
        margin_ms: silence added after the audio in a fitted window.
        min_ms: the shortest fitted window; short windows run away far more often.
        min_logprob: a fitted decode whose average token log-probability is below this is
            decoded again with the full window (unclear speech is where the two disagree).
    """

    mode: str = FIT
    margin_ms: int = 1000
    min_ms: int = 10_000
    min_logprob: float = -1.0

    def frames(self, content_frames: int) -> int:
        """Frames to encode for audio of ``content_frames`` frames (even, at most 3000)."""
        if self.mode == FULL or content_frames >= FULL_FRAMES:
            return FULL_FRAMES
        wanted = content_frames + self.margin_ms * FRAMES_PER_SECOND // 1000
        wanted = max(wanted, self.min_ms * FRAMES_PER_SECOND // 1000)
        return min(FULL_FRAMES, wanted + wanted % 2)


def token_budget(seconds: float) -> int:
    """The most tokens a decode of ``seconds`` of speech may generate.

    Fast speech makes about 4 tokens a second in the languages measured (German, with its long
    words, the most); twice that and a floor leave room for any real utterance while a loop
    stops within a few seconds' worth of text.
    """
    return 12 + int(8 * seconds)


def max_words(seconds: float) -> int:
    """More words than this cannot have been said in ``seconds`` (about 5 a second at most)."""
    return 3 + int(5 * seconds)


def compression_ratio(text: str) -> float:
    """How well ``text`` compresses: loops compress far better than speech (Whisper's test)."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def _loop_at(words: list[str]) -> tuple[int, int] | None:
    """(start, size) of the first run of words repeated back to back beyond what speech does.

    A phrase of three or more words said twice in a row, two words three times or one word
    four times ("no, no, no, no") is how a decoding loop looks; people repeat less.
    """
    n = len(words)
    for size in range(1, n // 2 + 1):
        needed = 2 if size >= 3 else (3 if size == 2 else 4)
        for start in range(0, n - size * needed + 1):
            span = words[start : start + size]
            if all(
                words[start + size * k : start + size * (k + 1)] == span for k in range(1, needed)
            ):
                return start, size
    return None


def repeated_span(words: list[str]) -> bool:
    """True when some run of words repeats back to back beyond what speech does, or the whole
    output is one phrase said twice ("Ja, natürlich. Ja, natürlich." for "Ja, natürlich.": a
    fitted decode that began again; a person rarely says all of an utterance twice)."""
    half = len(words) // 2
    twice = len(words) >= 4 and len(words) % 2 == 0 and words[:half] == words[half:]
    return twice or _loop_at(words) is not None


def without_loops(text: str) -> str:
    """``text`` with each decoding loop cut to its first pass ("très très très très" -> "très",
    "glichototototo" -> "glichoto").

    For the rare output that loops with the full window too: what the speaker said is the first
    pass; the repeats are the decoder's.
    """
    words = text.split()
    while (found := _loop_at([_key(w) for w in words])) is not None:
        start, size = found
        end = start + size
        while [_key(w) for w in words[end : end + size]] == [
            _key(w) for w in words[start : start + size]
        ]:
            end += size
        words = words[: start + size] + words[end:]
    return _LETTER_LOOP.sub(r"\1", " ".join(words))


def _key(word: str) -> str:
    return "".join(_WORD.findall(word.lower()))


def suspect(text: str, tokens: int, seconds: float, avg_logprob: float, policy: WindowPolicy):
    """Why a fitted decode should not be trusted, or None.

    Returns:
        ``token_limit``, ``repetition``, ``too_many_words``, ``compression`` or
        ``low_confidence``.
    """
    if tokens >= token_budget(seconds):
        return "token_limit"
    words = [w.lower() for w in _WORD.findall(text)]
    if repeated_span(words) or _LETTER_LOOP.search(text):
        return "repetition"
    if len(words) > max_words(seconds):
        return "too_many_words"
    if compression_ratio(text) > 2.4:
        return "compression"
    if avg_logprob < policy.min_logprob:
        return "low_confidence"
    return None
