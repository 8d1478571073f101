"""DeepL API (the original design's API mode): ``POST /v2/translate``, ``GET /v2/languages``.

The key comes from ``DEEPL_API_KEY``; the languages are asked for once at start. Requests carry
at most 50 texts, as the API allows; rate limits and server errors are retried twice.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import unescape as xml_unescape

import httpx

from parley.errors import EngineUnavailable, InvalidInput, UnsupportedLanguage
from parley.logs import get_logger
from services.translate.engines.base import Engine
from services.translate.keep import wrap
from services.translate.languages import Pair, is_code, normalize, pair_name

log = get_logger(__name__)

FREE_URL = "https://api-free.deepl.com"
PRO_URL = "https://api.deepl.com"
MAX_TEXTS = 50
RETRY_DELAYS = (0.5, 1.5)
_KEEP_TAG = re.compile(r"</?keep>")
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
# DeepL wants a regional variant for these targets.
_VARIANTS = {"en": "EN-US", "pt": "PT-PT", "zh": "ZH-HANS"}


def default_url(api_key: str) -> str:
    """DeepL's rule: keys of free accounts end in ``:fx`` and use the free host."""
    return FREE_URL if api_key.endswith(":fx") else PRO_URL


class DeepLEngine(Engine):
    """Translates through the DeepL HTTP API.

    Args:
        api_key: the account's authentication key.
        base_url: API root; empty picks DeepL's host for the key.
        timeout_s: seconds per HTTP request.
        retry_delays: seconds to wait before each retry of a rate-limited or failed call.
    """

    name = "deepl"

    def __init__(
        self,
        api_key: str,
        base_url: str = "",
        timeout_s: float = 10.0,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        self.base_url = (base_url or default_url(api_key)).rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"DeepL-Auth-Key {api_key}", "User-Agent": "parley"},
            timeout=timeout_s,
        )
        self._retry_delays = tuple(retry_delays)
        self._sources: set[str] = set()
        self._targets: dict[str, str] = {}

    def discover(self) -> None:
        """Asks DeepL for its source and target languages.

        Raises:
            EngineUnavailable: if DeepL cannot be reached or refuses the key.
        """
        sources = self._request("GET", "/v2/languages", params={"type": "source"})
        targets = self._request("GET", "/v2/languages", params={"type": "target"})
        try:
            self._sources = {normalize(item["language"]) for item in sources}
            codes = sorted(str(item["language"]).upper() for item in targets)
        except (TypeError, KeyError) as exc:
            raise EngineUnavailable(f"DeepL sent an unexpected language list: {exc}") from exc
        self._targets = {}
        for code in codes:
            language = normalize(code)
            if code == language.upper() or code == _VARIANTS.get(language):
                self._targets[language] = code
            else:
                self._targets.setdefault(language, code)
        self._sources = {code for code in self._sources if is_code(code)}

    def pairs(self) -> dict[Pair, str]:
        return {
            (source, target): ""
            for source in self._sources
            for target in self._targets
            if source != target and is_code(target)
        }

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        return self._translate(texts, source, target, {})

    def translate_keeping(
        self, texts: Sequence[str], source: str, target: str, keep: Sequence[str]
    ) -> list[str]:
        """Kept terms go in a ``<keep>`` tag that DeepL's XML handling is told to ignore."""
        marked = [
            wrap(xml_escape(text), [xml_escape(t) for t in keep], lambda t: f"<keep>{t}</keep>")
            for text in texts
        ]
        options = {"tag_handling": "xml", "ignore_tags": ["keep"]}
        out = self._translate(marked, source, target, options)
        return [xml_unescape(_KEEP_TAG.sub("", text)) for text in out]

    def _translate(
        self, texts: Sequence[str], source: str, target: str, options: dict
    ) -> list[str]:
        if source not in self._sources or target not in self._targets:
            raise UnsupportedLanguage(f"deepl does not translate {pair_name((source, target))}")
        out: list[str] = []
        for first in range(0, len(texts), MAX_TEXTS):
            chunk = list(texts[first : first + MAX_TEXTS])
            body = {
                "text": chunk,
                "source_lang": source.upper(),
                "target_lang": self._targets[target],
                **options,
            }
            reply = self._request("POST", "/v2/translate", json=body)
            try:
                translated = [str(item["text"]) for item in reply["translations"]]
            except (TypeError, KeyError) as exc:
                raise EngineUnavailable(f"DeepL sent an unexpected answer: {exc}") from exc
            if len(translated) != len(chunk):
                raise EngineUnavailable(
                    f"DeepL answered {len(translated)} translations for {len(chunk)} texts"
                )
            out.extend(translated)
        return out

    def close(self) -> None:
        self._client.close()

    def _request(self, method: str, path: str, **kwargs) -> object:
        """One API call, retried on rate limits and server errors; returns the JSON body."""
        for delay in (*self._retry_delays, None):
            try:
                response = self._client.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                raise EngineUnavailable(f"DeepL is unreachable at {self.base_url}: {exc}") from exc
            if response.status_code in _RETRY_STATUS and delay is not None:
                log.warning("deepl busy; retrying", status=response.status_code, delay_s=delay)
                time.sleep(delay)
                continue
            _check(response)
            try:
                return response.json()
            except ValueError as exc:
                raise EngineUnavailable(f"DeepL sent a body that is not JSON: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover


def _check(response: httpx.Response) -> None:
    """Raises the Parley error for a DeepL error status."""
    status = response.status_code
    if status < 400:
        return
    try:
        detail = str(response.json().get("message", ""))
    except (ValueError, AttributeError):
        detail = response.text[:200]
    if status in (400, 413, 414):
        raise InvalidInput(f"DeepL rejected the request ({status}): {detail}")
    if status == 403:
        raise EngineUnavailable("DeepL refused the API key (403): check DEEPL_API_KEY")
    if status == 456:
        raise EngineUnavailable("DeepL quota exceeded (456): the account's character limit")
    raise EngineUnavailable(f"DeepL answered {status}: {detail}")
