"""A local HTTP server that speaks the OpenAI-compatible chat API, for the llm engine's tests.

It answers ``GET {base}/models`` and ``POST {base}/chat/completions`` with the OpenAI JSON shapes
and status codes (an unknown model is a 404, as Ollama and vLLM answer), checks the bearer key
when one is configured, reads the texts of the user message (a JSON array), and "translates"
them word by word with a small glossary into the language the system message names. Failures
and odd answers can be queued; every request is recorded.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.fake_http import JsonHandler, serving
from tests.translate.fake_deepl import GLOSSARY as DEEPL_WORDS

MODELS = ["qwen2.5:7b", "llama3.2:3b"]
# The same word table as the fake DeepL's, by the language names a chat prompt uses.
GLOSSARY = {
    "German": DEEPL_WORDS["DE"],
    "French": DEEPL_WORDS["FR"],
    "English": DEEPL_WORDS["EN-US"],
}
# Queued answers to the next chat request, besides status codes (answered with an error body):
# "malformed" prose instead of JSON, "short" one translation too few, "fenced" a correct answer
# in a ```json block, "reset" the connection closed unanswered, "stall" no answer until the
# server stops.
ANSWERS = frozenset({"malformed", "short", "fenced"})
_PAIR = re.compile(r" from ([^.]+?) to ([^.]+?)\.")


@dataclass
class OpenAIState:
    """What the fake server knows and saw."""

    base: str = "/v1"
    key: str = ""
    models: list[str] = field(default_factory=lambda: list(MODELS))
    requests: list[dict] = field(default_factory=list)
    fail_next: list[int | str] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    def chats(self) -> list[dict]:
        """The bodies of the chat requests, in order."""
        return [r["body"] for r in self.requests if r["path"].endswith("/chat/completions")]


def translate_word_by_word(text: str, language: str) -> str:
    """Word by word, copying what is between ⟦ ⟧ as the prompt asks (marks included)."""
    pieces = re.split(r"(⟦.*?⟧)", text)
    if len(pieces) > 1:
        return "".join(
            piece if i % 2 else translate_word_by_word(piece, language)
            for i, piece in enumerate(pieces)
        )
    words = GLOSSARY.get(language, {})
    return " ".join(words.get(word.lower(), word) for word in text.split(" "))


def _error(message: str, kind: str = "invalid_request_error") -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


class _Handler(JsonHandler):
    state: OpenAIState

    def _admitted(self, body: object) -> bool:
        """Records the request and answers a queued failure or a refused key."""
        self.state.requests.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        queue = self.state.fail_next
        if queue and queue[0] not in ANSWERS:
            failure = queue.pop(0)
            if failure == "stall":
                self.state.released.wait(30)
            if isinstance(failure, str):  # "reset", or a stall the server ends
                self.close_connection = True
                return False
            self.send_json(failure, _error("queued failure", "server_error"))
            return False
        if self.state.key and self.headers.get("Authorization") != f"Bearer {self.state.key}":
            self.send_json(401, _error("Incorrect API key provided: wrong"))
            return False
        return True

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        if not self._admitted(None):
            return
        if self.path != f"{self.state.base}/models":
            self.send_json(404, _error("404 page not found"))
            return
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "library"}
            for m in self.state.models
        ]
        self.send_json(200, {"object": "list", "data": data})

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if not self._admitted(body):
            return
        if self.path != f"{self.state.base}/chat/completions":
            self.send_json(404, _error("404 page not found"))
            return
        model = body.get("model", "")
        if model not in self.state.models:
            message = f'model "{model}" not found, try pulling it first'
            self.send_json(404, _error(message, "api_error"))
            return
        system, user = (m["content"] for m in body["messages"])
        texts = json.loads(user)
        language = _PAIR.search(system)
        if not isinstance(texts, list) or not language:
            self.send_json(400, _error("expected a JSON array of texts and a language pair"))
            return
        translations = [translate_word_by_word(text, language.group(2)) for text in texts]
        kind = self.state.fail_next.pop(0) if self.state.fail_next else ""
        if kind == "short":
            translations = translations[:-1]
        content = json.dumps({"translations": translations}, ensure_ascii=False)
        if kind == "fenced":
            content = f"```json\n{content}\n```"
        elif kind == "malformed":
            content = "Sure! Here are the translations: " + "; ".join(translations)
        self.send_json(200, _completion(model, content))


def _completion(model: str, content: str) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


@contextmanager
def fake_openai(key: str = "", base: str = "/v1") -> Iterator[tuple[str, OpenAIState]]:
    """Runs the fake server on 127.0.0.1, port 0; yields its API root URL and its state."""
    state = OpenAIState(base=base, key=key)
    handler = type("Handler", (_Handler,), {"state": state})
    with serving(handler) as url:
        try:
            yield f"{url}{base}", state
        finally:
            state.released.set()  # a stalled answer must not hold the server's shutdown
