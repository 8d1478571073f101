"""Base of the local HTTP servers that speak a vendor's API in tests (OpenAI, DeepL,
ElevenLabs): quiet logs and JSON replies."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler that answers JSON and keeps test output quiet."""

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        pass

    def send_json(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
