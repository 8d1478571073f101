"""Faults inside recognition, injected by a wrapper around a real model: an engine that raises
ends only that utterance (the stream goes on and the next utterance is recognised); a decode
that stops short with the committed text as context does not hold back the rest of a
monologue; a slow decode of the unfinished audio does not make the end of an utterance be
decoded twice."""

from __future__ import annotations

import time

import grpc
import numpy as np

from parley.rpc import register_servicer
from parley.server import ServerConfig, Service, running
from parley.v1 import stt_pb2, stt_pb2_grpc
from services.stt import SERVICE_NAME
from services.stt.config import SttConfig
from services.stt.engine import Transcript, Word
from services.stt.registry import ModelRegistry
from services.stt.servicer import SpeechToTextServicer
from tests.speech import silence, speak, wer
from tests.stt.conftest import finals, recognize_stream
from tests.stt.test_commit import monologue, stream_paced
from tests.voices import Voice

LONG = "Good morning everyone, I would like to talk about the budget for next year."
SHORT = "Thank you."


class Faulty:
    """A recogniser that raises for any clip longer than ``fail_over_s`` (the long utterance),
    as an engine bug would, and otherwise defers to the real one."""

    def __init__(self, inner, fail_over_s: float) -> None:
        self._inner = inner
        self._limit = fail_over_s
        self.raised = 0

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def transcribe(self, audio: np.ndarray, options):
        if audio.size / 16_000 > self._limit:
            self.raised += 1
            raise RuntimeError("injected engine failure")
        return self._inner.transcribe(audio, options)


class StopsShort:
    """A recogniser whose decodes of unfinished audio, prompted with committed text, find one
    word ("so") and stop, as Whisper's greedy decoding did in a monologue; other decodes are
    the real model's."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.stopped = self.unprompted_after = 0

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def transcribe(self, audio: np.ndarray, options):
        if options.partial and options.prompt:
            self.stopped += 1
            return Transcript("so", "en", 1.0, (Word("so", 0.0, 0.2, 0.9),), -0.2)
        if options.partial and self.stopped:
            self.unprompted_after += 1
        return self._inner.transcribe(audio, options)


class LatePartial:
    """A recogniser whose decode of unfinished audio that begins just before ``finish_at``
    delivers its words only then (a busy server), after the speaker fell silent; notes when
    each decode of a whole utterance (one that is not partial) began."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.finish_at = 0.0
        self.ends: list[float] = []

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def transcribe(self, audio: np.ndarray, options):
        if not options.partial:
            self.ends.append(time.perf_counter())
        heard = self._inner.transcribe(audio, options)
        if options.partial and 0 < self.finish_at - time.perf_counter() < 1.0:
            time.sleep(self.finish_at - time.perf_counter())  # the injected slowness
        return heard


def hosting(config: SttConfig, registry: ModelRegistry) -> Service:
    servicer = SpeechToTextServicer(config, registry)
    return Service(
        name=SERVICE_NAME,
        register=lambda server: register_servicer(
            server, servicer, stt_pb2.DESCRIPTOR.services_by_name["SpeechToTextService"]
        ),
        stop=registry.close,
    )


async def test_an_engine_error_ends_only_that_utterance():
    config = SttConfig(default_model="whisper-tiny.en", preload="lazy")
    registry = ModelRegistry(config)
    faulty = Faulty(registry.get("whisper-tiny.en"), fail_over_s=2.5)
    registry._engines["whisper-tiny.en"] = faulty
    hosted = hosting(config, registry)
    long, short = speak(LONG, "en"), speak(SHORT, "en")
    assert long.size / 16_000 > 3.0 and short.size / 16_000 < 2.0
    audio = np.concatenate([silence(0.3), long, silence(1.2), short, silence(1.2)])
    loopback = ServerConfig(host="127.0.0.1", port=0, auth="disabled")
    async with running([hosted], loopback) as server:
        async with grpc.aio.insecure_channel(server.local_address) as channel:
            stub = stt_pb2_grpc.SpeechToTextServiceStub(channel)
            responses = await recognize_stream(
                stub, audio, stt_pb2.RecognitionConfig(language="en", speech_events=True)
            )
    assert faulty.raised >= 1
    # Both utterances were heard (speech events), the first one's recognition failed, the
    # stream ended normally and the second was recognised.
    started = [r.speech_event for r in responses if r.HasField("speech_event")]
    assert len([e for e in started if e.type == stt_pb2.SPEECH_EVENT_TYPE_SPEECH_STARTED]) == 2
    (result,) = finals(responses)
    assert result.utterance_id == "u1" and wer(SHORT, result.text) == 0, result.text


async def monologue_through(kind, speed: float = 1.5, on_start=None):
    """Piper's monologue streamed in real time x ``speed``, sentence mode, to a server whose
    model is wrapped in ``kind``; ``on_start(engine, seconds)`` runs as the audio starts.

    Returns:
        (the wrapped engine, the final results, the monologue's script)
    """
    config = SttConfig(preload="lazy")
    registry = ModelRegistry(config)
    engine = kind(registry.get(config.default_model))
    registry._engines[config.default_model] = engine
    audio, script = monologue(Voice("piper", "joe", "en"))
    loopback = ServerConfig(host="127.0.0.1", port=0, auth="disabled")
    async with running([hosting(config, registry)], loopback) as server:
        async with grpc.aio.insecure_channel(server.local_address) as channel:
            stub = stt_pb2_grpc.SpeechToTextServiceStub(channel)
            config = stt_pb2.RecognitionConfig(language="en", commit=stt_pb2.COMMIT_MODE_SENTENCE)
            if on_start is not None:
                on_start(engine, audio.size / 16_000)
            results = await stream_paced(stub, audio, config, speed)
    return engine, results, script


async def test_a_decode_that_stops_short_with_context_is_retried_without_it():
    short, results, script = await monologue_through(StopsShort)
    # Every decode after the first piece stopped short while it had context; without it the
    # next decodes heard the words and the sentences after it were committed as they came.
    assert short.stopped >= 1 and short.unprompted_after >= 2
    assert sum(r.mid_utterance for r in results) >= 2, [r.text for r in results]
    assert wer(script, " ".join(r.text for r in results)) <= 0.1, [r.text for r in results]


async def test_the_end_of_a_run_on_utterance_is_decoded_once_though_a_partial_finishes_late():
    stopped = 0.0

    def starting(late: LatePartial, seconds: float) -> None:
        nonlocal stopped
        stopped = time.perf_counter() + seconds - 1.5  # the monologue ends in 1.5 s of silence
        # A partial running when the speaker stops delivers its words 0.3 s later: after the
        # decode of the end began (at 0.2 s of silence), before the end (at 0.5 s).
        late.finish_at = stopped + 0.3

    late, results, script = await monologue_through(LatePartial, speed=1.0, on_start=starting)
    # The decode begun when the silence began is the final one: the late partial committed
    # nothing, which would have made the end be decoded again, later.
    assert len([t for t in late.ends if t > stopped]) == 1, [r.text for r in results]
    assert results[-1].mid_utterance is False
    assert wer(script, " ".join(r.text for r in results)) <= 0.1, [r.text for r in results]
