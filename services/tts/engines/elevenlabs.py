"""ElevenLabs text-to-speech API (the original design's API mode), through httpx.

``GET /v1/voices`` lists the account's voices; ``POST /v1/text-to-speech/{voice_id}/stream``
with ``output_format=pcm_24000`` streams raw 16-bit PCM back as it is made, and this engine
passes each piece on as it arrives. The key travels in the ``xi-api-key`` header.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np

from parley.errors import EngineUnavailable, InvalidInput, LimitExceeded
from services.tts.engines.base import (
    Engine,
    Gender,
    Quality,
    SynthesisOptions,
    Voice,
    normalize_language,
)

SAMPLE_RATE = 24_000
_GENDERS = {"female": Gender.FEMALE, "male": Gender.MALE, "neutral": Gender.NEUTRAL}
# Languages of ElevenLabs' multilingual models (eleven_multilingual_v2; the v2.5 models add
# hu, no and vi). English-only models speak en.
_MULTILINGUAL = (
    "en ja zh de hi fr ko pt it es id nl tr fil pl sv bg ro ar cs el fi hr ms sk da ta uk ru"
).split()
_MULTILINGUAL_V25 = (*_MULTILINGUAL, "hu", "no", "vi")
_SPEED_RANGE = (0.7, 1.2)  # what the API accepts for voice_settings.speed


def _model_languages(model_id: str) -> tuple[str, ...]:
    if "v2_5" in model_id or "v3" in model_id:
        return _MULTILINGUAL_V25
    if "multilingual" in model_id:
        return tuple(_MULTILINGUAL)
    return ("en",)


class ElevenLabsEngine(Engine):
    """Voices of an ElevenLabs account, spoken by the API."""

    name = "elevenlabs"
    first_clause = False  # the API streams as it speaks: a cut would only add a request

    def __init__(
        self,
        api_key: str,
        base_url: str = "https://api.elevenlabs.io",
        model_id: str = "eleven_multilingual_v2",
        timeout_s: float = 30.0,
    ) -> None:
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._model_id = model_id
        self._timeout_s = timeout_s
        self._client = None
        self._lock = threading.Lock()

    def _http(self):
        with self._lock:
            if self._client is None:
                import httpx

                self._client = httpx.Client(
                    base_url=self._base_url,
                    headers={"xi-api-key": self._api_key},
                    timeout=httpx.Timeout(self._timeout_s, connect=10.0),
                )
            return self._client

    def voices(self) -> list[Voice]:
        if not self._api_key:
            raise EngineUnavailable("ElevenLabs is not configured: set ELEVENLABS_API_KEY")
        import httpx

        try:
            response = self._http().get("/v1/voices")
        except httpx.HTTPError as exc:
            raise EngineUnavailable(f"ElevenLabs is unreachable: {exc}") from exc
        _raise_for_status(response.status_code, response.text)
        try:
            listed = response.json()["voices"]
        except (ValueError, KeyError, TypeError) as exc:
            raise EngineUnavailable(f"ElevenLabs sent an unexpected voice list: {exc}") from exc
        return [self._voice(entry) for entry in listed if entry.get("voice_id")]

    def _voice(self, entry: dict) -> Voice:
        labels = entry.get("labels") or {}
        verified = [
            normalize_language(item["language"])
            for item in entry.get("verified_languages") or []
            if isinstance(item, dict) and item.get("language")
        ]
        languages = tuple(dict.fromkeys(verified)) or _model_languages(self._model_id)
        return Voice(
            engine=self.name,
            id=str(entry["voice_id"]),
            languages=languages,
            sample_rate=SAMPLE_RATE,
            gender=_GENDERS.get(str(labels.get("gender", "")).lower(), Gender.UNSPECIFIED),
            quality=Quality.NEURAL,
            description=f"ElevenLabs {entry.get('name', entry['voice_id'])}",
        )

    def synthesize(
        self, text: str, voice: Voice, options: SynthesisOptions
    ) -> Iterator[np.ndarray]:
        import httpx

        speed = min(max(options.speaking_rate, _SPEED_RANGE[0]), _SPEED_RANGE[1])
        body = {
            "text": text,
            "model_id": self._model_id,
            "voice_settings": {"stability": 0.5, "similarity_boost": 0.75, "speed": speed},
        }
        path = f"/v1/text-to-speech/{voice.id}/stream"
        try:
            with self._http().stream(
                "POST", path, params={"output_format": f"pcm_{SAMPLE_RATE}"}, json=body
            ) as response:
                if response.status_code >= 400:
                    _raise_for_status(
                        response.status_code, response.read().decode(errors="replace")
                    )
                carry = b""
                for data in response.iter_bytes():
                    data, carry = carry + data, b""
                    if len(data) % 2:
                        data, carry = data[:-1], data[-1:]
                    if data:
                        yield np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
        except httpx.HTTPError as exc:
            raise EngineUnavailable(f"ElevenLabs request failed: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _raise_for_status(status: int, detail: str) -> None:
    """Maps an ElevenLabs HTTP error to a Parley error."""
    if status < 400:
        return
    detail = detail[:300]
    if status in (401, 403):
        raise EngineUnavailable(f"ElevenLabs refused the API key ({status}): {detail}")
    if status == 429:
        raise LimitExceeded(f"ElevenLabs rate limit or quota reached: {detail}")
    if status in (400, 422):
        raise InvalidInput(f"ElevenLabs rejected the request ({status}): {detail}")
    raise EngineUnavailable(f"ElevenLabs answered {status}: {detail}")
