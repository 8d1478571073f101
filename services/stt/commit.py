"""Committing the sentences of an utterance while it goes on (LocalAgreement-2, as in ufal's
whisper_streaming, committed at sentence and clause ends).

The audio of the unfinished utterance is decoded again every so often, from the same start.
Words that two consecutive decodes agree on will not change; of those, the words up to the last
sentence end are committed. With no sentence end, they are committed up to the last clause end
(a comma, a colon) both decodes punctuate after :data:`MIN_CLAUSE_WORDS` words or more
(:data:`MIN_NEXT_CLAUSE_WORDS` once part of the utterance is out, so that a sentence's short
tail is not held until the next sentence's clause end): in speech that runs on, Whisper often
writes a comma where a sentence ends. Failing that, up to the last agreed word after which the
voice activity model heard the speaker pause. Failing that, once :data:`ANCHOR_AFTER_S` of
audio wait, up to a clause end (punctuated, or a pause)
that both decodes put at the same moment after the same words, whatever came before those and
however each spelled the clause's last word (unclear speech makes Whisper guess a word
differently each time). Failing that, in an utterance already heard in pieces (its speaker does
not pause), once :data:`OPENER_AFTER_S` of audio wait, up to the last word before a word that
opens a clause in the language ("and", "until", "porque": :mod:`services.stt.openers`) that
both decodes agree on, or put at the same moment after the same words. And once the agreed
words reach :data:`RUN_ON_S` of audio, up to the widest gap between two of them. So a listener
hears a long sentence in pieces of a few seconds while the speaker goes on, and is a piece
behind when the speaker stops, not a sentence. An utterance shorter than
:data:`FIRST_PIECE_AFTER_S` is never cut: it is heard whole, as soon as its speaker stops.

Committed words become a final result, their audio leaves the buffer (cut inside the pause
heard after the last committed word, or else between it and the next one by Whisper's word
timings), and the next decodes start after it, with the committed text as context. Pure logic:
:class:`SentenceCommitter` sees words, times and pauses, never audio or a model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.stt.engine import Word
from services.stt.openers import opens_phrase

SENTENCE_END = re.compile(r"[.!?。！？…]['\"”’)\]]*$")
FULL_STOPS = tuple(".!?。！？")  # what ends a sentence that is not trailing off (no ellipsis)
PAUSE = re.compile(r"[.!?。！？…,;:，、；：]['\"”’)\]]*$")  # the end of a sentence or a clause
MIN_CLAUSE_WORDS = 4  # words a committed clause (or run-on piece) has at least
MIN_NEXT_CLAUSE_WORDS = 3  # the same, once part of the utterance is out (as MIN_OPENER_WORDS)
RUN_ON_S = 4.0  # agreed speech with no agreed punctuation after which the widest pause commits
ANCHOR_WORDS = 3  # words before a clause's last word that two decodes must share
ANCHOR_S = 0.4  # how far apart in time two decodes may put the same clause end
TIMING_S = 0.4  # how early Whisper may end a word before the pause after it
ANCHOR_AFTER_S = 3.0  # audio held before a clause end is agreed on by its place alone
OPENER_AFTER_S = 1.0  # agreed speech after which a run-on's next piece is cut before an opener
MIN_OPENER_WORDS = 3  # words a piece cut before an opener has at least
FIRST_PIECE_AFTER_S = 2.5  # audio an utterance holds before a first piece of it is committed
_KEY = re.compile(r"\w+", re.UNICODE)
TAIL_S = 0.3  # after the last word of a decode, how far its audio may reach
OVERLAP_WORDS = 3  # at most this many words of a new decode may repeat the committed end


def ends_sentence(text: str) -> bool:
    """True when ``text`` ends with a full stop, question or exclamation mark (not an
    ellipsis: Whisper writes one where the speaker trails off)."""
    text = text.rstrip().rstrip("\"'»”)")
    return text.endswith(FULL_STOPS) and not text.endswith(("...", "…"))


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

    def offer(
        self,
        words: Sequence[Word],
        audio_s: float,
        pauses: Sequence[tuple[float, float]] = (),
        language: str | None = None,
        running_on: bool = False,
    ) -> Commit | None:
        """The next decode's words (of ``audio_s`` seconds of audio from the same start); a
        Commit when it and the previous decode agree up to a sentence or clause end.

        ``pauses``: (start, end) seconds of the silences the voice activity model heard in that
        audio; a cut falls inside one where it can, and one after agreed words ends a clause.
        ``language``: what is spoken (for the words that open a clause); ``running_on``: part
        of this utterance was committed already (its speaker does not pause).
        """
        previous, self._previous = self._previous, list(words)
        if previous is None:
            return None
        if not running_on and audio_s < FIRST_PIECE_AFTER_S:
            # A short utterance is heard whole: one caption, translated with all its context.
            # Its end is decoded as soon as the speaker stops, so a piece would gain nothing.
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
        # A first piece as short as three words would split ordinary utterances ("Good morning
        # everyone, | how are you today?"); once the speaker runs on, a sentence's short tail
        # ("después de comer,") would otherwise wait for the next sentence's clause end.
        shortest = MIN_NEXT_CLAUSE_WORDS if running_on else MIN_CLAUSE_WORDS
        if not ends:
            # A sentence still going on: a clause end both decodes agree on, not too short a
            # piece (Whisper often writes a comma where a sentence ends in run-on speech).
            ends = [
                i for i in range(shortest - 1, agreed)
                if PAUSE.search(words[i].word) and PAUSE.search(previous[i].word)
            ]  # fmt: skip
        paused = _paused(words, pauses)
        if not ends:
            # The speaker paused after agreed words: a breath between two phrases.
            ends = [i for i in range(shortest - 1, min(agreed, len(words) - 1))
                    if i in paused]  # fmt: skip
        if not ends and audio_s >= ANCHOR_AFTER_S:
            ends = _anchored_clause_ends(previous, words, agreed, paused)
        if not ends and running_on and audio_s >= OPENER_AFTER_S:
            ends = _before_openers(previous, words, agreed, language)
        if not ends and agreed and words[agreed - 1].end >= RUN_ON_S:
            ends = _widest_pause(words, agreed)
        if not ends:
            return None
        last = ends[-1]
        end = words[last].end
        following = words[last + 1].start if last + 1 < len(words) else min(end + TAIL_S, audio_s)
        cut = min(max(end, (end + following) / 2), audio_s)
        if last in paused:  # in the silence, not by the words' rough timings
            cut = min(sum(paused[last]) / 2, audio_s)
        self._previous = None  # the next decode starts at the cut
        return Commit(tuple(words[: last + 1]), cut)


def _paused(words: Sequence[Word], pauses: Sequence[tuple[float, float]]) -> dict[int, tuple]:
    """{i: pause} for each pause heard between word i and the next one (or after the last).

    Whisper's word timings run early around a pause (a word ends before the silence starts and
    the next one stretches back into it), so a pause follows the last word that ends before it
    starts, if that word ends within :data:`TIMING_S` of it.
    """
    found = {}
    for start, end in pauses:
        before = [i for i, w in enumerate(words) if w.end <= start]
        if before and start - words[before[-1]].end <= TIMING_S:
            found[before[-1]] = (start, end)
    return found


def _anchored_clause_ends(
    previous: Sequence[Word], words: Sequence[Word], agreed: int, paused: dict[int, tuple]
) -> list[int]:
    """Clause ends of this decode, past the agreed words, that the previous decode has too: a
    word ending at the same time (within :data:`ANCHOR_S`) after the same :data:`ANCHOR_WORDS`
    words, both followed by punctuation (or by a pause heard in the audio), with the next words
    already heard. The clause's last word itself may differ ("job," then "jog,"): a guess the
    decode at the end of the utterance would make too.

    Unclear speech makes Whisper guess a word differently at each decode; agreement word by word
    from the start then stops at that word, and everything after it would wait for the end of
    the utterance. Two decodes that end a clause alike at the same moment agree on where it
    ends, whatever they guessed before it: this decode's words up to there are committed, which
    is no less than what one decode at the end of the utterance would give.
    """
    found = []
    for i in range(max(agreed, MIN_CLAUSE_WORDS - 1, ANCHOR_WORDS), len(words) - 1):
        heard_pause = i in paused
        if not (heard_pause or PAUSE.search(words[i].word)):
            continue
        before = [key(w.word) for w in words[i - ANCHOR_WORDS : i]]
        for j in range(ANCHOR_WORDS, len(previous)):
            if (
                abs(previous[j].end - words[i].end) <= ANCHOR_S
                and (heard_pause or PAUSE.search(previous[j].word))
                and [key(w.word) for w in previous[j - ANCHOR_WORDS : j]] == before
            ):
                found.append(i)
                break
    return found


def _before_openers(
    previous: Sequence[Word], words: Sequence[Word], agreed: int, language: str | None
) -> list[int]:
    """[i] for the last word i (:data:`MIN_OPENER_WORDS` in or later) whose next word opens a
    clause in ``language``, where both decodes agree: word by word from the start, or (as
    :func:`_anchored_clause_ends` does) by the same :data:`ANCHOR_WORDS` words up to the opener
    (the piece's last two, then the opener), the piece ending at the same time, whatever came
    before ("They do their homework and" then "Do their homework and"); [] when there is
    none."""
    found = []
    for i in range(MIN_OPENER_WORDS - 1, len(words) - 1):
        if not opens_phrase(key(words[i + 1].word), language):
            continue
        if i + 1 < agreed:
            found.append(i)
            continue
        tail = [key(w.word) for w in words[max(0, i - ANCHOR_WORDS + 2) : i + 2]]
        for j in range(len(tail) - 1, len(previous) - 1):
            if (
                abs(previous[j].end - words[i].end) <= ANCHOR_S
                and [key(w.word) for w in previous[j - len(tail) + 2 : j + 2]] == tail
            ):
                found.append(i)
                break
    return found[-1:]


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
