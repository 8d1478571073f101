"""A large language model behind the OpenAI-compatible chat API: ``POST {base}/chat/completions``,
``GET {base}/models``.

Ollama (``http://127.0.0.1:11434/v1``), llama.cpp's llama-server, vLLM, LM Studio and OpenAI all
speak it. Each request carries up to ``batch_size`` texts as a JSON array and asks for a JSON
object ``{"translations": [...]}`` back, at temperature 0. An answer that is not such an object
with one string per text is retried text by text. Rate limits, server errors and dropped
connections are retried twice; a refused connection or a timeout is not.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence

import httpx

from parley.errors import EngineUnavailable, UnsupportedLanguage
from parley.logs import get_logger
from services.translate.engines.base import Engine
from services.translate.keep import wrap
from services.translate.languages import Pair, pair_name

log = get_logger(__name__)

BATCH_SIZE = 16
RETRY_DELAYS = (0.5, 1.5)
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_FENCE = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.DOTALL)
_THINKING = re.compile(r"^<think>.*?</think>", re.DOTALL)

# English names for the prompt: models follow "from English to German" better than codes.
LANGUAGE_NAMES = {
    "af": "Afrikaans", "ar": "Arabic", "ast": "Asturian", "be": "Belarusian", "bg": "Bulgarian",
    "bn": "Bengali", "ca": "Catalan", "cs": "Czech", "cy": "Welsh", "da": "Danish",
    "de": "German", "el": "Greek", "en": "English", "eo": "Esperanto", "es": "Spanish",
    "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French",
    "ga": "Irish", "gl": "Galician", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian",
    "hu": "Hungarian", "id": "Indonesian", "is": "Icelandic", "it": "Italian", "ja": "Japanese",
    "ko": "Korean", "lt": "Lithuanian", "lv": "Latvian", "mk": "Macedonian", "ms": "Malay",
    "nb": "Norwegian Bokmål", "nl": "Dutch", "nn": "Norwegian Nynorsk", "no": "Norwegian",
    "oc": "Occitan", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian",
    "sk": "Slovak", "sl": "Slovenian", "sr": "Serbian", "sv": "Swedish", "sw": "Swahili",
    "ta": "Tamil", "th": "Thai", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu",
    "vi": "Vietnamese", "zh": "Chinese",
}  # fmt: skip


def language_name(code: str) -> str:
    """The English name of a language code for the prompt; where unknown, the code quoted."""
    return LANGUAGE_NAMES.get(code, f"the language with ISO code {code!r}")


def system_prompt(count: int, source: str, target: str) -> str:
    """The instructions for translating ``count`` texts from ``source`` into ``target``."""
    return (
        f"You are a translation engine. Translate each of the {count} numbered texts of the "
        f"JSON array in the user message from {language_name(source)} to "
        f"{language_name(target)}. Answer only with a JSON object "
        f'{{"translations": [...]}} holding exactly {count} strings, the translation of text 1 '
        "first and the others in order; add no notes, explanations or other keys. Keep names of "
        "people, numbers and anything written inside ⟦ ⟧ exactly as they are."
    )


def parse_translations(content: object, count: int) -> list[str]:
    """The translations in a model's answer: ``{"translations": [...]}`` (or the bare array),
    possibly fenced as a Markdown code block or after a reasoning model's ``<think>`` block.

    Raises:
        ValueError: if the answer does not hold exactly ``count`` strings.
    """
    if not isinstance(content, str):
        raise ValueError(f"the answer has no text: {content!r}")
    text = _THINKING.sub("", content.strip()).strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"the answer is not JSON: {content[:80]!r}") from exc
    items = body.get("translations") if isinstance(body, dict) else body
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ValueError(f'the answer has no "translations" list of strings: {content[:80]!r}')
    if len(items) != count:
        raise ValueError(f"the answer holds {len(items)} translations for {count} texts")
    return items


class LlmEngine(Engine):
    """Translates with a chat model on an OpenAI-compatible server.

    Args:
        base_url: API root, for example ``http://127.0.0.1:11434/v1`` for Ollama.
        model: model name on that server, for example ``qwen2.5:7b``.
        api_key: sent as a bearer token when set (OpenAI, a vLLM started with ``--api-key``).
        languages: the codes it may translate between; it serves every ordered pair of them.
        timeout_s: seconds per HTTP request.
        retry_delays: seconds to wait before each retry of a rate-limited or failed call.
        batch_size: most texts per request.
    """

    name = "llm"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        languages: Sequence[str] = ("en", "es"),
        timeout_s: float = 30.0,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        headers = {"User-Agent": "parley"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)
        self._timeout_s = timeout_s
        self._retry_delays = tuple(retry_delays)
        self._batch_size = max(1, batch_size)
        self._languages = tuple(dict.fromkeys(languages))

    def discover(self) -> None:
        """Checks that the server answers and lists the model.

        Raises:
            EngineUnavailable: if the server cannot be reached, refuses the key or lacks the model.
        """
        reply = self._request("GET", "/models")
        try:
            listed = [str(item["id"]) for item in reply["data"]]  # type: ignore[index]
        except (TypeError, KeyError) as exc:
            raise EngineUnavailable(
                f"the LLM server at {self.base_url} sent an unexpected model list: {exc!r}"
            ) from exc
        wanted = {self.model} if ":" in self.model else {self.model, f"{self.model}:latest"}
        if not wanted & set(listed):
            raise EngineUnavailable(
                f"model {self.model!r} is not on the LLM server at {self.base_url}; it has "
                f"{', '.join(listed) or 'no models'} (with Ollama: `ollama pull {self.model}`)"
            )

    def pairs(self) -> dict[Pair, str]:
        return {
            (source, target): self.model
            for source in self._languages
            for target in self._languages
            if source != target
        }

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        if source == target or not {source, target} <= set(self._languages):
            raise UnsupportedLanguage(f"llm does not translate {pair_name((source, target))}")
        out: list[str] = []
        for first in range(0, len(texts), self._batch_size):
            chunk = list(texts[first : first + self._batch_size])
            try:
                out.extend(self._ask(chunk, source, target))
            except ValueError as exc:
                if len(chunk) == 1:
                    raise self._unusable(exc) from exc
                log.warning("llm answer unusable; translating one by one", reason=str(exc))
                out.extend(self._one_by_one(chunk, source, target))
        return out

    def translate_keeping(
        self, texts: Sequence[str], source: str, target: str, keep: Sequence[str]
    ) -> list[str]:
        """Kept terms go between ⟦ ⟧, which the prompt says to copy; the marks are removed."""
        marked = [wrap(text, keep, lambda term: f"⟦{term}⟧") for text in texts]
        return [
            text.replace("⟦", "").replace("⟧", "")
            for text in self.translate(marked, source, target)
        ]

    def close(self) -> None:
        self._client.close()

    def _one_by_one(self, texts: list[str], source: str, target: str) -> list[str]:
        out: list[str] = []
        for text in texts:
            try:
                out.extend(self._ask([text], source, target))
            except ValueError as exc:
                raise self._unusable(exc) from exc
        return out

    def _unusable(self, exc: ValueError) -> EngineUnavailable:
        return EngineUnavailable(f"model {self.model!r} gave no usable translation: {exc}")

    def _ask(self, texts: list[str], source: str, target: str) -> list[str]:
        """One chat request for ``texts``.

        Raises:
            ValueError: if the model's answer does not hold one translation per text.
        """
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": system_prompt(len(texts), source, target)},
                {"role": "user", "content": json.dumps(texts, ensure_ascii=False)},
            ],
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "stream": False,
        }
        reply = self._request("POST", "/chat/completions", json=body)
        try:
            content = reply["choices"][0]["message"]["content"]  # type: ignore[index]
        except (TypeError, KeyError, IndexError) as exc:
            raise EngineUnavailable(
                f"the LLM server at {self.base_url} sent an unexpected answer: {exc!r}"
            ) from exc
        return parse_translations(content, len(texts))

    def _request(self, method: str, path: str, **kwargs) -> object:
        """One API call, retried on rate limits, server errors and dropped connections; returns
        the JSON body."""
        for delay in (*self._retry_delays, None):
            try:
                response = self._client.request(method, path, **kwargs)
            except httpx.TimeoutException as exc:
                raise EngineUnavailable(
                    f"model {self.model!r} at {self.base_url} did not answer within "
                    f"{self._timeout_s:g} s"
                ) from exc
            except httpx.ConnectError as exc:
                raise EngineUnavailable(
                    f"the LLM server at {self.base_url} is unreachable: {exc}"
                ) from exc
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:  # a dropped connection
                if delay is None:
                    raise EngineUnavailable(
                        f"the LLM server at {self.base_url} dropped the connection: {exc}"
                    ) from exc
                log.warning("llm connection dropped; retrying", error=str(exc), delay_s=delay)
                time.sleep(delay)
                continue
            except httpx.HTTPError as exc:
                raise EngineUnavailable(
                    f"the LLM server at {self.base_url} is unreachable: {exc}"
                ) from exc
            if response.status_code in _RETRY_STATUS and delay is not None:
                log.warning("llm server busy; retrying", status=response.status_code, delay_s=delay)
                time.sleep(delay)
                continue
            self._check(response, path)
            try:
                return response.json()
            except ValueError as exc:
                raise EngineUnavailable(
                    f"the LLM server at {self.base_url} sent a body that is not JSON: {exc}"
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _check(self, response: httpx.Response, path: str) -> None:
        """Raises the Parley error for an error status."""
        status = response.status_code
        if status < 400:
            return
        detail = _detail(response)
        where = f"the LLM server at {self.base_url}"
        if status in (401, 403):
            raise EngineUnavailable(
                f"{where} refused the API key ({status}): check PARLEY_TRANSLATE_LLM_API_KEY"
            )
        if status == 404 and path == "/models":
            raise EngineUnavailable(
                f"{where} has no {path} (404): is it an OpenAI-compatible API root such as "
                "http://127.0.0.1:11434/v1?"
            )
        if status == 404:
            raise EngineUnavailable(
                f"model {self.model!r} is not on {where} (404: {detail}); with Ollama, fetch it "
                f"with `ollama pull {self.model}`"
            )
        raise EngineUnavailable(f"{where} answered {status}: {detail}")


def _detail(response: httpx.Response) -> str:
    """The error message of an OpenAI-style error body, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    error = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, dict):
        error = error.get("message", error)
    return str(error)[:200]
