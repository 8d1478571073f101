"""A member's compressed audio (Opus, FLAC, G.711), decoded as it arrives, once per member.

The room decodes it, not the recognition service: a container's header comes once, at the
start of the member's stream, while the room opens a new recognition stream whenever the member
changes the language they speak; each must be able to start anywhere. So the decoder lives as
long as the member's stay and hands on 16 kHz LINEAR16 (:data:`DECODED`).
"""

from __future__ import annotations

from collections.abc import Callable

from parley import codecs
from parley.audio import LINEAR16, AudioFormat, encode
from parley.errors import InvalidInput, LimitExceeded

DECODED = AudioFormat(LINEAR16, 16_000, 1)


class InputDecoder:
    """Decodes one member's stream; after bytes that are not what the member declared, it
    says why once (:attr:`failure`) and gives nothing more."""

    def __init__(self, fmt: AudioFormat, on_output: Callable[[], None]) -> None:
        self._format = fmt
        self._decoder = codecs.CompressedDecoder(
            fmt.encoding, fmt.sample_rate, fmt.channels, DECODED.sample_rate, on_output=on_output
        )
        self.failure: str | None = None

    def feed(self, data: bytes) -> bytes:
        """Takes the next bytes (non-blocking); LINEAR16 of what is decoded so far. A container
        is decoded in a worker thread, which calls ``on_output`` (from that thread) when it has
        more for :meth:`take`."""
        return self._run(self._decoder.feed, data)

    def take(self) -> bytes:
        """LINEAR16 of what the worker decoded since the last call."""
        return self._run(self._decoder.take)

    def flush(self) -> bytes:
        """The rest, at the end of the member's stream (blocks: run it in a thread)."""
        return self._run(self._decoder.flush)

    def close(self) -> None:
        self._decoder.close()

    def _run(self, step, *args) -> bytes:
        if self.failure is not None:
            return b""
        try:
            samples = step(*args)
        except (InvalidInput, LimitExceeded) as exc:
            self.failure = (
                f"your audio cannot be decoded as {self._format.encoding} ({exc}); nothing more "
                "of it is heard: join again with the input_format you send"
            )
            self._decoder.close()
            return b""
        return encode(samples, DECODED) if samples.size else b""
