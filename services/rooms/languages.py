"""The languages of rooms, from what the recognition, translation and speech services offer.

Pure: it takes their list answers (ListModels, ListLanguagePairs, ListVoices) and says, per
language, whether rooms hear it, speak it and from which languages they translate into it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from parley.v1 import rooms_pb2, stt_pb2, translate_pb2, tts_pb2


def room_languages(
    models: stt_pb2.ListModelsResponse,
    pairs: Iterable[translate_pb2.LanguagePair],
    voices: Iterable[tts_pb2.Voice],
    model: str = "",
) -> rooms_pb2.ListLanguagesResponse:
    """Every language rooms hear (with ``model``, else the default one), translate into or speak."""
    wanted = model or models.default_model
    heard = {code for m in models.models if m.name == wanted for code in m.languages}
    spoken = {code.split("-")[0] for v in voices for code in v.languages}
    sources: dict[str, set[str]] = defaultdict(set)
    for pair in pairs:
        sources[pair.target_language].add(pair.source_language)
    return rooms_pb2.ListLanguagesResponse(
        languages=[
            rooms_pb2.RoomLanguage(
                language=code,
                heard=code in heard,
                spoken=code in spoken,
                translated_from=sorted(sources.get(code, ())),
            )
            for code in sorted(heard | spoken | set(sources))
        ]
    )
