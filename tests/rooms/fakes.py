"""Scripted engine services for orchestration tests of the room service (never for a feature).

:class:`ScriptedBackends` speaks the room service's Backends interface without any model:
a participant's audio chunk ``b"SAY:<text>"`` is recognised as one utterance saying ``<text>``,
translation prefixes the target language, synthesis streams a few chunks of silence. Every call
is counted, and faults can be injected and synthesis held, so that tests of fan-out, outboxes,
admission, stalled listeners, closing and shutdown run in milliseconds. What the engines
really hear, translate and say is tested with the real engines elsewhere.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import grpc

from parley.rpc import duration
from parley.v1 import audio_pb2, stt_pb2, translate_pb2, tts_pb2
from tests.rooms.conftest import FakeRpcError

SAY = b"SAY:"
CHUNKS = 3  # audio chunks per synthesis
CHUNK_BYTES = 640


def said(text: str) -> bytes:
    """The audio chunk a scripted speaker sends to say ``text``."""
    return SAY + text.encode()


class ScriptedBackends:
    """Backends with scripted behaviour (see the module's doc).

    Attributes:
        calls: calls per method.
        targets: the target languages of each translate call.
        synthesized: the language of each synthesis, in order.
        fail_translation / fail_synthesis: languages whose calls fail with UNAVAILABLE.
        unreachable: (source, target) pairs no route translates.
        voiceless: languages no voice speaks.
        requests: every translate request, in order.
        hold_synthesis: when set (cleared), each synthesis waits for it after its first chunk.
        stuck_recognition: recognition streams never end, even after the audio does (a
            recognition service that hangs).
        dying: how many of the next recognition streams to get audio take their chunk and fail
            with UNAVAILABLE, unrecognised (their server died with the audio in flight).
        byte_offsets: results' offsets are where their chunk ends in the stream's audio, as
            16 kHz PCM (for the room's record of what is recognised).
    """

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.targets: list[list[str]] = []
        self.synthesized: list[str] = []
        self.fail_translation: set[str] = set()
        self.unreachable: set[tuple[str, str]] = set()
        self.voiceless: set[str] = set()
        self.requests: list = []
        self.fail_synthesis: set[str] = set()
        self.hold_synthesis: asyncio.Event | None = None
        self.stuck_recognition = False
        self.dying = 0
        self.byte_offsets = False
        self.speech_s = CHUNKS * CHUNK_BYTES / 2 / 16_000  # audio per synthesis (16 kHz)
        self.rates: list[float] = []  # the speaking rate of each synthesis
        self.said_s = 0.0  # how long each utterance took to say (0: no offsets in results)
        self.recognizing = 0  # recognition streams open now
        self.no_recognition = asyncio.Event()  # set whenever no recognition stream is open

    async def recognize(self, requests):
        self.calls["recognize"] += 1
        self.recognizing += 1
        self.no_recognition.clear()
        language, index, received = "en", 0, 0
        try:
            async for request in requests:
                if request.HasField("config"):
                    language = request.config.language or "en"
                    continue
                data = request.audio.data
                received += len(data)
                if self.dying:
                    self.dying -= 1
                    raise FakeRpcError(grpc.StatusCode.UNAVAILABLE, "Stream removed")
                if not data.startswith(SAY):
                    continue
                uid = f"u{index}"
                index += 1
                yield stt_pb2.StreamingRecognizeResponse(
                    speech_event=stt_pb2.SpeechEvent(
                        type=stt_pb2.SPEECH_EVENT_TYPE_SPEECH_STARTED, utterance_id=uid
                    )
                )
                yield stt_pb2.StreamingRecognizeResponse(
                    speech_event=stt_pb2.SpeechEvent(
                        type=stt_pb2.SPEECH_EVENT_TYPE_SPEECH_ENDED, utterance_id=uid
                    )
                )
                yield stt_pb2.StreamingRecognizeResponse(
                    result=stt_pb2.RecognitionResult(
                        utterance_id=uid,
                        is_final=True,
                        stability=1.0,
                        text=data[len(SAY) :].decode(),
                        language=language,
                        start_offset=duration((index - 1) * self.said_s),
                        end_offset=duration(
                            received / 32_000 if self.byte_offsets else index * self.said_s
                        ),
                    )
                )
            if self.stuck_recognition:
                await asyncio.Event().wait()  # never set: hangs until cancelled
        finally:
            self.recognizing -= 1
            if not self.recognizing:
                self.no_recognition.set()

    async def translate(self, request, deadline_s):
        self.calls["translate"] += 1
        self.requests.append(request)
        self.targets.append(list(request.target_languages))
        failing = [t for t in request.target_languages if t in self.fail_translation]
        if failing:
            raise FakeRpcError(grpc.StatusCode.UNAVAILABLE, f"injected failure: {failing[0]}")
        return translate_pb2.TranslateResponse(
            translations=[
                translate_pb2.Translation(
                    text_index=0,
                    target_language=target,
                    text=f"{target}: {request.texts[0]}",
                    route=translate_pb2.Route(summary=f"{request.source_language}>{target}"),
                )
                for target in request.target_languages
            ]
        )

    async def translates(self, source, target, deadline_s):
        self.calls["translates"] += 1
        return (source, target) not in self.unreachable

    async def speaks(self, language, deadline_s):
        self.calls["speaks"] += 1
        return language not in self.voiceless

    async def synthesize(self, request, deadline_s):
        language = request.voice.language
        self.calls["synthesize"] += 1
        self.synthesized.append(language)
        if language in self.fail_synthesis:
            raise FakeRpcError(grpc.StatusCode.UNAVAILABLE, f"injected failure: {language}")
        fmt = request.audio_format
        speed = request.options.speaking_rate or 1.0
        self.rates.append(round(speed, 3))
        rate = fmt.sample_rate_hz or 16_000
        size = int(self.speech_s / speed * rate * 2 / CHUNKS) // 2 * 2
        for sequence in range(CHUNKS):
            reply = tts_pb2.StreamingSynthesizeResponse(audio=bytes(size))
            if sequence == 0:
                reply.audio_format.CopyFrom(
                    audio_pb2.AudioFormat(
                        encoding=fmt.encoding or audio_pb2.AUDIO_ENCODING_LINEAR16,
                        sample_rate_hz=fmt.sample_rate_hz or 16_000,
                        channels=1,
                    )
                )
                reply.voice.name = f"scripted:{language}"
            yield reply
            if sequence == 0 and self.hold_synthesis is not None:
                await self.hold_synthesis.wait()

    async def close(self) -> None:
        pass
