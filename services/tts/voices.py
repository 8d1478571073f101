"""Which voice speaks: every engine's voices, ranked per language, and the choice for a request.

Ranking for a language: a voice of the exact region asked for (``en-GB``) first, then higher
quality (neural, then standard, then formant), then the engine preference from the settings,
then the engine's own order. The first is the language's default. A ``speaker_key`` spreads
speakers over the language's best voices, deterministically, so that listeners can tell the
speakers of a room apart: the pool is the best quality tier, topped up with the next best
voices until it holds ``speaker_voices`` voices.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from parley.errors import EngineUnavailable, InvalidInput, ParleyError, UnsupportedLanguage, quoted
from parley.logs import get_logger
from services.tts.engines.base import Engine, Voice, normalize_language, primary_language

log = get_logger(__name__)


@dataclass(frozen=True)
class _Entry:
    voice: Voice
    engine_rank: int
    voice_rank: int
    primaries: frozenset[str]
    tags: frozenset[str]  # lower-case language tags


# Pitch factors that make one voice sound like several people: the audio is played back this
# much faster (higher and a little quicker) or slower. Small enough to keep speech natural.
PITCH_VARIANTS = (1.0, 1.1, 0.91, 1.2, 0.84)


def _spread(key: str, size: int) -> int:
    """A stable index in ``range(size)`` for ``key`` (the same in every process)."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % size


class VoiceRegistry:
    """The voices of the enabled engines, and the rules that choose one."""

    def __init__(
        self, entries: Sequence[tuple[Engine, Sequence[Voice]]], speaker_voices: int = 4
    ) -> None:
        """
        Args:
            entries: each engine with its voices, in order of engine preference.
            speaker_voices: fewest voices a language's speakers are spread over.
        """
        self._engines = {engine.name: engine for engine, _ in entries}
        self._speaker_voices = speaker_voices
        self._entries: list[_Entry] = []
        self._by_name: dict[str, _Entry] = {}
        for engine_rank, (_, voices) in enumerate(entries):
            for voice_rank, voice in enumerate(voices):
                entry = _Entry(
                    voice,
                    engine_rank,
                    voice_rank,
                    frozenset(primary_language(lang) for lang in voice.languages),
                    frozenset(lang.lower() for lang in voice.languages),
                )
                if voice.name.lower() not in self._by_name:
                    self._entries.append(entry)
                    self._by_name[voice.name.lower()] = entry
        self.languages = sorted({p for e in self._entries for p in e.primaries})
        self._defaults: dict[str, list[str]] = {}
        for language in self.languages:
            best = self._ranked(language)[0].voice.name
            self._defaults.setdefault(best, []).append(language)

    @classmethod
    def discover(cls, engines: Sequence[Engine], speaker_voices: int = 4) -> VoiceRegistry:
        """Asks each engine for its voices; an engine that cannot run is left out and logged."""
        entries = []
        for engine in engines:
            try:
                voices = engine.voices()
            except ParleyError as exc:
                log.warning("tts engine unavailable", engine=engine.name, reason=str(exc))
                continue
            except Exception:  # a broken engine must not take the others down
                log.exception("tts engine failed to list voices", engine=engine.name)
                continue
            log.info("tts engine ready", engine=engine.name, voices=len(voices))
            entries.append((engine, voices))
        return cls(entries, speaker_voices)

    @property
    def engine_names(self) -> list[str]:
        """Names of the engines that have voices, in order of preference."""
        return list(self._engines)

    def engine(self, voice: Voice) -> Engine:
        """The engine that speaks ``voice``."""
        return self._engines[voice.engine]

    def _rank_key(self, entry: _Entry, language: str) -> tuple:
        exact_region = "-" in language and language.lower() in entry.tags
        return (not exact_region, -entry.voice.quality, entry.engine_rank, entry.voice_rank)

    def _ranked(self, language: str, engine: str = "") -> list[_Entry]:
        language = normalize_language(language)
        primary = primary_language(language)
        found = [
            e
            for e in self._entries
            if primary in e.primaries and (not engine or e.voice.engine == engine)
        ]
        return sorted(found, key=lambda e: self._rank_key(e, language))

    def voices(self, language: str = "", engine: str = "") -> list[Voice]:
        """Voices matching the filters, best first within each language."""
        if language:
            return [e.voice for e in self._ranked(language, engine)]
        chosen = [e for e in self._entries if not engine or e.voice.engine == engine]
        chosen.sort(key=lambda e: (primary_language(e.voice.languages[0]), *self._rank_key(e, "")))
        return [e.voice for e in chosen]

    def default_languages(self, voice: Voice) -> list[str]:
        """The languages for which ``voice`` is the default."""
        return list(self._defaults.get(voice.name, ()))

    def select(
        self, language: str = "", voice: str = "", engine: str = "", speaker_key: str = ""
    ) -> Voice:
        """The voice for a request.

        Raises:
            InvalidInput: for an unknown voice or engine, or a voice that does not speak the
                language; the message names what is available.
            UnsupportedLanguage: if no voice speaks the language.
            EngineUnavailable: if no engine could start at all.
        """
        if not self._entries:
            raise EngineUnavailable(
                "no text-to-speech engine is available here: see the server log for why"
            )
        if engine and engine not in self._engines:
            raise InvalidInput(
                f"unknown or unavailable engine {quoted(engine)}; "
                f"available: {', '.join(self._engines)}"
            )
        if voice:
            return self._named(voice, language, engine)
        if not language:
            raise InvalidInput('set voice.language (an ISO 639-1 code such as "es") or voice.voice')
        ranked = self._ranked(language, engine)
        if not ranked:
            where = f" with engine {engine}" if engine else ""
            available = sorted(
                {
                    p
                    for e in self._entries
                    for p in e.primaries
                    if not engine or e.voice.engine == engine
                }
            )
            raise UnsupportedLanguage(
                f"no voice speaks {quoted(language)}{where}; "
                f"languages available: {', '.join(available)}"
            )
        if not speaker_key:
            return ranked[0].voice
        return self.speaker_variant(ranked, speaker_key)[0]

    def speaker_variant(self, ranked: list[_Entry], speaker_key: str) -> tuple[Voice, float]:
        """(voice, pitch factor) for a speaker: the language's best-quality voices, each at
        several pitches until there are ``speaker_voices`` variants. Lower-quality voices are
        never used to tell speakers apart: they cost too much intelligibility."""
        best = [e.voice for e in ranked if e.voice.quality == ranked[0].voice.quality]
        variants = [(v, 1.0) for v in best]
        for pitch in PITCH_VARIANTS[1:]:
            if len(variants) >= self._speaker_voices:
                break
            variants.extend((v, pitch) for v in best)
        return variants[_spread(speaker_key, len(variants))]

    def select_variant(
        self, language: str = "", voice: str = "", engine: str = "", speaker_key: str = ""
    ) -> tuple[Voice, float]:
        """Like :meth:`select`, with the pitch factor that tells speakers apart (1.0 when a
        voice is named or no speaker_key is given)."""
        chosen = self.select(language, voice, engine)
        if voice or not speaker_key:
            return chosen, 1.0
        return self.speaker_variant(self._ranked(language, engine), speaker_key)

    def _named(self, name: str, language: str, engine: str) -> Voice:
        entry = self._by_name.get(name.strip().lower())
        if entry is None:
            if language:
                names = [v.name for v in self.voices(language, engine)][:40]
                hint = f"voices for {language}: {', '.join(names) or 'none'}"
            else:
                hint = f"ListVoices names them (engines: {', '.join(self._engines)})"
            raise InvalidInput(f"unknown voice {quoted(name)}; {hint}")
        found = entry.voice
        if engine and found.engine != engine:
            raise InvalidInput(f"voice {found.name} belongs to engine {found.engine}, not {engine}")
        if language and primary_language(language) not in entry.primaries:
            raise InvalidInput(
                f"voice {found.name} speaks {', '.join(found.languages)}, not {quoted(language)}"
            )
        return found
