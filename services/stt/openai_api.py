"""OpenAI speech-to-text API engine (the original design's "API mode").

Posts each utterance as a WAV file to ``POST {base_url}/audio/transcriptions`` (or
``/audio/translations`` for the translate task) with the key from ``OPENAI_API_KEY``.
"""

from __future__ import annotations

import numpy as np

from parley import audio
from parley.errors import EngineUnavailable, InvalidInput, UnsupportedLanguage
from services.stt.engine import (
    SAMPLE_RATE,
    TRANSLATE,
    ModelDescription,
    RecognitionOptions,
    Recognizer,
    Transcript,
    Word,
)
from services.stt.whisper import whisper_languages


class OpenAIRecognizer(Recognizer):
    """A model of the OpenAI audio API.

    Args:
        api_key: the key, sent as a bearer token.
        model: API model name, for example ``whisper-1``.
        base_url: API root, for example ``https://api.openai.com/v1``.
        timeout_s: seconds before a call is given up.
    """

    concurrency = 4  # network-bound: several calls may overlap

    def __init__(self, api_key: str, model: str, base_url: str, timeout_s: float = 30.0) -> None:
        import httpx

        self._model = model
        self._languages = whisper_languages()
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout_s,
        )

    @property
    def description(self) -> ModelDescription:
        return ModelDescription(
            name=f"openai:{self._model}",
            engine="openai",
            multilingual=True,
            languages=tuple(self._languages),
            supports_translation=True,
            source=str(self._client.base_url),
            description=f"OpenAI speech-to-text API, model {self._model}",
        )

    def check(self, options: RecognitionOptions) -> None:
        wanted = [options.language] if options.language else list(options.candidate_languages)
        unknown = [code for code in wanted if code not in self._languages]
        if unknown:
            raise UnsupportedLanguage(f"the OpenAI API does not recognise {', '.join(unknown)}")

    def transcribe(self, samples: np.ndarray, options: RecognitionOptions) -> Transcript:
        import httpx

        wav = audio.encode(samples, audio.AudioFormat(audio.WAV, SAMPLE_RATE))
        data: dict[str, str | list[str]] = {"model": self._model, "response_format": "verbose_json"}
        if options.prompt:
            data["prompt"] = options.prompt
        if options.task == TRANSLATE:
            path = "/audio/translations"
        else:
            path = "/audio/transcriptions"
            if options.language:
                data["language"] = options.language
            if options.word_timestamps:
                data["timestamp_granularities[]"] = ["word", "segment"]
        try:
            response = self._client.post(
                path, data=data, files={"file": ("utterance.wav", wav, "audio/wav")}
            )
        except httpx.HTTPError as exc:
            raise EngineUnavailable(f"OpenAI API unreachable: {exc}") from exc
        if response.status_code in (400, 422):
            raise InvalidInput(f"OpenAI API rejected the request: {response.text[:200]}")
        if response.status_code != 200:
            raise EngineUnavailable(
                f"OpenAI API answered {response.status_code}: {response.text[:200]}"
            )
        body = response.json()
        words = tuple(
            Word(w["word"].strip(), float(w["start"]), float(w["end"]), 1.0)
            for w in body.get("words") or ()
        )
        language = options.language or _iso_code(body.get("language", ""))
        if options.task == TRANSLATE:
            language = "en"
        return Transcript(body.get("text", "").strip(), language, 1.0 if language else 0.0, words)

    def close(self) -> None:
        self._client.close()


# verbose_json names the detected language in English; these are the names of the languages
# Parley's other engines serve. Any other name is reported as unknown ("").
_LANGUAGE_NAMES = {
    "english": "en", "spanish": "es", "french": "fr", "german": "de", "italian": "it",
    "portuguese": "pt", "catalan": "ca", "galician": "gl", "romanian": "ro", "dutch": "nl",
    "polish": "pl", "russian": "ru", "ukrainian": "uk", "chinese": "zh", "japanese": "ja",
    "korean": "ko", "arabic": "ar", "hindi": "hi", "turkish": "tr", "swedish": "sv",
}  # fmt: skip


def _iso_code(language: str) -> str:
    """ISO 639-1 code for the API's language field ("spanish" or "es")."""
    language = language.strip().lower()
    return language if len(language) == 2 else _LANGUAGE_NAMES.get(language, "")
