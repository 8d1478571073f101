"""What a server can hear, translate and speak, per language, as one Markdown table.

Built from the server's own answers (ListModels, ListLanguagePairs, ListVoices), so it says what
that server offers with its engines and settings, not what Parley could do elsewhere.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from parley.v1 import stt_pb2, translate_pb2, tts_pb2

RULE_BASED = {"apertium"}  # every other engine is a neural one
QUALITY = {
    tts_pb2.VOICE_QUALITY_FORMANT: "formant",
    tts_pb2.VOICE_QUALITY_STANDARD: "standard",
    tts_pb2.VOICE_QUALITY_NEURAL: "neural",
}


def _kind(route: translate_pb2.Route) -> str:
    engines = {step.engine for step in route.steps}
    return (
        "rule-based"
        if engines <= RULE_BASED
        else "neural"
        if not engines & RULE_BASED
        else ("neural and rule-based")
    )


def _route(pair: translate_pb2.LanguagePair) -> str:
    """``es (apertium, rule-based)`` or ``fr via es (apertium, rule-based)``."""
    hops = [step.target_language for step in pair.route.steps[:-1]]
    engines = ", ".join(dict.fromkeys(step.engine for step in pair.route.steps))
    via = f" via {'>'.join(hops)}" if hops else ""
    chrf = f", chrF {pair.quality_chrf:.0f}" if pair.HasField("quality_chrf") else ""
    return f"{pair.target_language}{via} ({engines}, {_kind(pair.route)}{chrf})"


def _voices(by_engine: dict[tuple[str, str], set[str]]) -> str:
    """``piper: en_US-joe-medium (neural); espeak-ng: 40 voices (formant)``."""
    parts = []
    for (engine, quality), names in by_engine.items():
        ids = sorted(name.split(":", 1)[1] for name in names)
        what = ", ".join(ids) if len(ids) <= 3 else f"{len(ids)} voices"
        parts.append(f"{engine}: {what}{f' ({quality})' if quality else ''}")
    return "; ".join(parts)


def table(
    models: stt_pb2.ListModelsResponse,
    pairs: Iterable[translate_pb2.LanguagePair],
    voices: Iterable[tts_pb2.Voice],
) -> str:
    """The Markdown table: one row per language that can be translated or spoken, then the
    languages that can only be heard."""
    heard: dict[str, list[str]] = defaultdict(list)
    for model in models.models:
        for code in model.languages:
            heard[code].append(model.name)
    routes: dict[str, list[str]] = defaultdict(list)
    for pair in pairs:
        routes[pair.source_language].append(_route(pair))
    spoken: dict[str, dict[tuple[str, str], set[str]]] = defaultdict(lambda: defaultdict(set))
    for voice in voices:
        for code in voice.languages:
            key = (voice.engine, QUALITY.get(voice.quality, ""))
            spoken[code.split("-")[0]][key].add(voice.name)
    rows = sorted(set(routes) | set(spoken))
    lines = [
        "| language | heard by | translated into | spoken by |",
        "| --- | --- | --- | --- |",
    ]
    for code in rows:
        lines.append(
            f"| {code} | {', '.join(heard.get(code, [])) or '-'} | "
            f"{'; '.join(routes.get(code, [])) or '-'} | "
            f"{_voices(spoken.get(code, {})) or '-'} |"
        )
    only_heard = sorted(set(heard) - set(rows))
    if only_heard:
        lines += [
            "",
            f"Heard (and transcribed, or translated into English by Whisper's own task) but not "
            f"translated or spoken here: {', '.join(only_heard)}.",
        ]
    return "\n".join(lines) + "\n"
