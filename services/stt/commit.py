"""Committing the sentences of an utterance while it goes on (LocalAgreement-2, as in ufal's
whisper_streaming, committed at sentence ends).

The audio of the unfinished utterance is decoded again every so often, from the same start.
Words that two consecutive decodes agree on will not change; of those, the words up to the last
sentence end (or, in speech that runs on for ten words or more with no sentence end, the last
clause end) that both decodes punctuate are committed. Where the decodes agree on the words but
not on any punctuation for :data:`RUN_ON_S` of audio (a flat voice, read fast), the agreed words
up to the widest pause between two of them are committed instead, so no sentence waits for the
utterance's length limit. Committed words become a final result, their
audio leaves the buffer (cut between the last committed word and the next one, by Whisper's
word timings), and the next decodes start after it, with the committed text as context. Pure
logic: :class:`SentenceCommitter` sees words and times, never audio or a model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.stt.engine import Word

SENTENCE_END = re.compile(r"[.!?。！？…]['\"”’)\]]*$")
PAUSE = re.compile(r"[.!?。！？…,;:，、；：]['\"”’)\]]*$")  # the end of a sentence or a clause
CLAUSE_AFTER_WORDS = 10  # with no sentence end, a clause end commits once this many words agree
MIN_CLAUSE_WORDS = 6
RUN_ON_S = 5.0  # audio with no agreed punctuation after which the widest agreed pause commits
_KEY = re.compile(r"\w+", re.UNICODE)
TAIL_S = 0.3  # after the last word of a decode, how far its audio may reach
OVERLAP_WORDS = 3  # at most this many words of a new decode may repeat the committed end


def key(word: str) -> str:
    """A word as decodes are compared: lower case, without punctuation."""
    return "".join(_KEY.findall(word.lower()))


@dataclass(frozen=True)
class Commit:
    """Words agreed on, up to a sentence end.

    Attributes:
        words: the committed words, with times from the start of the decoded audio.
        cut_s: where the committed audio ends, in seconds from the start of the decoded audio.
    """

    words: tuple[Word, ...]
    cut_s: float

    @property
    def text(self) -> str:
        return " ".join(w.word for w in self.words)


class SentenceCommitter:
    """Compares each decode of the unfinished audio with the one before it."""

    def __init__(self) -> None:
        self._previous: list[Word] | None = None

    def reset(self) -> None:
        """The audio now starts elsewhere (a commit, or a new utterance): forget the last decode."""
        self._previous = None

    def offer(self, words: Sequence[Word], audio_s: float) -> Commit | None:
        """The next decode's words (of ``audio_s`` seconds of audio from the same start); a
        Commit when it and the previous decode agree up to a sentence end."""
        previous, self._previous = self._previous, list(words)
        if previous is None:
            return None
        agreed = 0
        for old, new in zip(previous, words, strict=False):
            if key(old.word) != key(new.word) or not key(new.word):
                break
            agreed += 1
        # A sentence end where this decode puts one, after words both decodes agree on, and
        # where the next sentence has begun in this decode or the last one paused too (Whisper
        # hesitates between a full stop and a comma while a sentence is fresh).
        ends = [
            i for i in range(agreed)
            if SENTENCE_END.search(words[i].word)
            and (i + 1 < len(words) or PAUSE.search(previous[i].word))
        ]  # fmt: skip
        if not ends and agreed >= CLAUSE_AFTER_WORDS:
            # Run-on speech: a clause end both decodes agree on, not too short a piece.
            ends = [
                i for i in range(MIN_CLAUSE_WORDS - 1, agreed)
                if PAUSE.search(words[i].word) and PAUSE.search(previous[i].word)
            ]  # fmt: skip
        if not ends and audio_s >= RUN_ON_S:
            ends = _widest_pause(words, agreed)
        if not ends:
            return None
        last = ends[-1]
        end = words[last].end
        following = words[last + 1].start if last + 1 < len(words) else min(end + TAIL_S, audio_s)
        cut = min(max(end, (end + following) / 2), audio_s)
        self._previous = None  # the next decode starts at the cut
        return Commit(tuple(words[: last + 1]), cut)


def _widest_pause(words: Sequence[Word], agreed: int) -> list[int]:
    """[i] for the agreed word i (not too early, followed by a word of this decode) after which
    the speaker paused longest; [] when there is none."""
    candidates = range(MIN_CLAUSE_WORDS - 1, min(agreed, len(words) - 1))
    if not candidates:
        return []
    return [max(candidates, key=lambda i: words[i + 1].start - words[i].end)]


def without_repeated_head(text: str, committed: str) -> str:
    """``text`` less any words at its start that repeat the end of the ``committed`` text (a word
    cut in two at a boundary is heard on both sides of it)."""
    words, before = text.split(), [key(w) for w in committed.split()]
    for size in range(min(OVERLAP_WORDS, len(words), len(before)), 0, -1):
        if [key(w) for w in words[:size]] == before[-size:]:
            return " ".join(words[size:])
    return text
