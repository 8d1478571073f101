"""A local HTTP server that speaks DeepL's API v2 contract, for the deepl engine's tests.

It answers ``GET /v2/languages`` and ``POST /v2/translate`` (JSON or form body) with DeepL's
JSON shapes and status codes, checks the ``DeepL-Auth-Key`` header, enforces the 50-texts
limit, and "translates" word by word with a small glossary. Failures can be queued.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from tests.fake_http import JsonHandler, serving

SOURCES = ["DE", "EN", "ES", "FR", "JA"]
TARGETS = ["DE", "EN-GB", "EN-US", "ES", "FR", "JA", "PT-BR", "PT-PT"]
GLOSSARY = {
    "DE": {"good": "guten", "morning": "morgen", "the": "die", "cat": "katze", "house": "haus"},
    "FR": {
        "good": "bon",
        "morning": "matin",
        "the": "le",
        "cat": "chat",
        "house": "maison",
        "mark": "marque",
    },
    "EN-US": {"guten": "good", "morgen": "morning", "katze": "cat", "haus": "house"},
}


@dataclass
class DeepLState:
    """What the fake server knows and saw."""

    key: str
    requests: list[dict] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)


def translate_word_by_word(text: str, target: str, ignored: tuple[str, ...] = ()) -> str:
    """Word by word, leaving alone what is inside an ignored tag (``tag_handling=xml``)."""
    words = GLOSSARY.get(target, {})
    if ignored:
        tags = "|".join(re.escape(tag) for tag in ignored)
        pieces = re.split(rf"(<(?:{tags})>.*?</(?:{tags})>)", text)
        return "".join(
            piece if i % 2 else translate_word_by_word(piece, target)
            for i, piece in enumerate(pieces)
        )
    return " ".join(words.get(word.lower(), word) for word in text.split(" "))


class _Handler(JsonHandler):
    state: DeepLState

    def _authorized(self, body: dict) -> bool:
        self.state.requests.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), **body}
        )
        if self.state.fail_next:
            self.send_json(self.state.fail_next.pop(0), {"message": "queued failure"})
            return False
        if self.headers.get("Authorization") != f"DeepL-Auth-Key {self.state.key}":
            self.send_json(403, {"message": "Authorization failure, check auth_key"})
            return False
        return True

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        kind = parse_qs(url.query).get("type", ["source"])[0]
        if not self._authorized({"type": kind}):
            return
        if url.path != "/v2/languages":
            self.send_json(404, {"message": "Not found"})
            return
        codes = TARGETS if kind == "target" else SOURCES
        self.send_json(200, [{"language": code, "name": code.title()} for code in codes])

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        if self.headers.get("Content-Type", "").startswith("application/json"):
            body = json.loads(raw)
        else:
            form = parse_qs(raw)
            body = {
                "text": form.get("text", []),
                **{k: v[0] for k, v in form.items() if k != "text"},
            }
        if not self._authorized({"body": body}) or self.path != "/v2/translate":
            return
        texts, target = body.get("text", []), str(body.get("target_lang", "")).upper()
        if not texts or len(texts) > 50:
            self.send_json(400, {"message": "Parameter 'text' must hold 1 to 50 texts"})
        elif target not in TARGETS:
            self.send_json(400, {"message": f"Value for 'target_lang' not supported: {target}"})
        else:
            source = str(body.get("source_lang", "EN")).upper()
            xml = body.get("tag_handling") == "xml"
            ignored = tuple(body.get("ignore_tags", ())) if xml else ()
            self.send_json(
                200,
                {
                    "translations": [
                        {
                            "detected_source_language": source,
                            "text": translate_word_by_word(t, target, ignored),
                        }
                        for t in texts
                    ]
                },
            )


@contextmanager
def fake_deepl(key: str = "test-key:fx") -> Iterator[tuple[str, DeepLState]]:
    """Runs the fake server on 127.0.0.1, port 0; yields its base URL and its state."""
    state = DeepLState(key=key)
    handler = type("Handler", (_Handler,), {"state": state})
    with serving(handler) as url:
        yield url, state
