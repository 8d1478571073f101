"""The TextToSpeechService servicer: maps gRPC calls onto the voice registry and the engines.

This is the only layer that knows gRPC: engines raise :mod:`parley.errors` types and
:func:`parley.rpc.abort_with` turns them into status codes. Synthesis runs in a bounded thread
pool; a stream is bridged from the blocking pipeline one piece at a time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc

from parley import audio, codecs, errors
from parley.aio import iterate_in_thread
from parley.launch import ServiceEntry
from parley.logs import get_logger
from parley.rpc import (
    abort_with,
    audio_format_from_proto,
    audio_format_to_proto,
    duration,
    register_servicer,
)
from parley.server import Service
from parley.v1 import tts_pb2, tts_pb2_grpc
from services.tts import SERVICE_NAME, engines
from services.tts.config import TtsConfig
from services.tts.engines.base import Gender, Quality, SynthesisOptions, Voice
from services.tts.firsts import FirstPieces
from services.tts.synthesis import Job
from services.tts.text import has_words, speakable
from services.tts.voices import VoiceRegistry

log = get_logger(__name__)

MIN_RATE, MAX_RATE = 0.25, 4.0
_GENDERS = {
    Gender.UNSPECIFIED: tts_pb2.VOICE_GENDER_UNSPECIFIED,
    Gender.FEMALE: tts_pb2.VOICE_GENDER_FEMALE,
    Gender.MALE: tts_pb2.VOICE_GENDER_MALE,
    Gender.NEUTRAL: tts_pb2.VOICE_GENDER_NEUTRAL,
}
_QUALITIES = {
    Quality.UNSPECIFIED: tts_pb2.VOICE_QUALITY_UNSPECIFIED,
    Quality.FORMANT: tts_pb2.VOICE_QUALITY_FORMANT,
    Quality.STANDARD: tts_pb2.VOICE_QUALITY_STANDARD,
    Quality.NEURAL: tts_pb2.VOICE_QUALITY_NEURAL,
}


def _check_text(text: str, limit: int) -> str:
    """The speakable form of ``text``, or InvalidInput saying what is wrong with it."""
    if not text.strip():
        raise errors.InvalidInput("text is empty")
    if len(text) > limit:
        raise errors.InvalidInput(
            f"text is {len(text)} characters long; the limit is {limit} per request "
            "(PARLEY_TTS_MAX_TEXT_CHARS): split it"
        )
    clean = speakable(text)
    if not has_words(clean):
        raise errors.InvalidInput("text has nothing to speak: only symbols, emoji or punctuation")
    return clean


def _check_options(message: tts_pb2.SynthesisOptions) -> SynthesisOptions:
    rate = message.speaking_rate or 1.0
    if not math.isfinite(rate) or not MIN_RATE <= rate <= MAX_RATE:
        raise errors.InvalidInput(
            f"speaking_rate {message.speaking_rate} is outside {MIN_RATE}-{MAX_RATE}"
        )
    return SynthesisOptions(speaking_rate=rate, trim_silence=message.trim_silence)


def _check_format(fmt: audio.AudioFormat, *, streaming: bool) -> audio.AudioFormat:
    """The output format (always mono; Opus always at 48 kHz and a bitrate), or InvalidInput."""
    fmt = dataclasses.replace(fmt, channels=1)
    if fmt.encoding in audio.OPUS_OUTPUT:
        fmt = dataclasses.replace(
            fmt, sample_rate=codecs.OPUS_RATE, bitrate=fmt.bitrate or codecs.DEFAULT_BITRATE
        )
    # WAV skips the rate check in validate(); the output rate must be in range all the same.
    dataclasses.replace(fmt, encoding=audio.LINEAR16).validate(streaming=True)
    return fmt.validate(streaming=streaming, output=True)


class TextToSpeechServicer(tts_pb2_grpc.TextToSpeechServiceServicer):
    """Synthesize, StreamingSynthesize and ListVoices over the configured engines."""

    def __init__(self, config: TtsConfig) -> None:
        self._config = config
        self._executor = ThreadPoolExecutor(config.tts_threads, thread_name_prefix="tts")
        self._registry: VoiceRegistry | None = None
        self._firsts = FirstPieces()

    async def start(self, server: object = None) -> None:
        """Builds the engines (shared per process) and lists their voices, in a thread.

        Args:
            server: the hosting server, when the server passes it (unused).
        """
        built = [
            engines.shared(name, self._config)
            for name in self._config.engines
            if engines.configured(name, self._config)
        ]
        loop = asyncio.get_running_loop()
        self._registry = await loop.run_in_executor(
            self._executor, VoiceRegistry.discover, built, self._config.tts_speaker_voices
        )
        if self._config.tts_preload:
            self._executor.submit(self._warm_up, self._registry)

    async def stop(self) -> None:
        """Releases the thread pool (engines stay loaded: they are shared by the process)."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    def _warm_up(registry: VoiceRegistry) -> None:
        """Loads the models of the default voices so that first requests are fast."""
        for voice in registry.voices():
            if not registry.default_languages(voice):
                continue
            try:
                registry.engine(voice).warm_up(voice)
            except Exception as exc:  # a failed warm-up only means a slower first request
                log.warning("tts warm-up failed", voice=voice.name, error=str(exc))

    def _registry_or_fail(self) -> VoiceRegistry:
        if self._registry is None:
            raise errors.EngineUnavailable("the text-to-speech service is still starting")
        return self._registry

    def _job(self, request, *, streaming: bool) -> Job:
        """Checks a Synthesize or StreamingSynthesize request and chooses its voice."""
        registry = self._registry_or_fail()
        text = _check_text(request.text, self._config.tts_max_text_chars)
        options = _check_options(request.options)
        selection = request.voice
        voice, pitch = registry.select_variant(
            selection.language, selection.voice, selection.engine, selection.speaker_key
        )
        fmt = audio_format_from_proto(request.audio_format, default_rate=voice.sample_rate)
        fmt = _check_format(fmt, streaming=streaming)
        chunk = max(1, fmt.sample_rate * self._config.tts_chunk_ms // 1000)
        engine = registry.engine(voice)
        return Job(
            engine,
            voice,
            text,
            options,
            fmt,
            max_chunk_samples=chunk,
            pitch=pitch,
            first_clause=streaming and self._config.tts_first_clause and engine.first_clause,
            max_clip_bytes=0 if streaming else self._config.tts_max_clip_bytes,
        )

    def _voice_message(self, voice: Voice) -> tts_pb2.Voice:
        return tts_pb2.Voice(
            name=voice.name,
            engine=voice.engine,
            languages=voice.languages,
            sample_rate_hz=voice.sample_rate,
            gender=_GENDERS[voice.gender],
            quality=_QUALITIES[voice.quality],
            default_for_languages=self._registry_or_fail().default_languages(voice),
        )

    async def Synthesize(self, request, context: grpc.aio.ServicerContext):
        try:
            job = self._job(request, streaming=False)
            job.check_clip_size()
            loop = asyncio.get_running_loop()
            started = time.perf_counter()
            stop = threading.Event()
            try:
                data, samples = await loop.run_in_executor(self._executor, job.clip, stop)
            except asyncio.CancelledError:  # deadline or client gone: stop the engine too
                stop.set()
                raise
        except errors.ParleyError as exc:
            await abort_with(context, exc)
        log.info(
            "synthesized",
            voice=job.voice.name,
            chars=len(request.text),
            audio_s=round(samples / job.format.sample_rate, 2),
            elapsed_s=round(time.perf_counter() - started, 3),
        )
        return tts_pb2.SynthesizeResponse(
            audio=data,
            audio_format=audio_format_to_proto(job.format),
            voice=self._voice_message(job.voice),
            duration=duration(samples, job.format.sample_rate),
        )

    async def StreamingSynthesize(self, request, context: grpc.aio.ServicerContext):
        firsts = self._firsts
        firsts.starting()
        waiting_first = True
        try:
            job = self._job(request, streaming=True)
            started = time.perf_counter()
            first_s, samples, held_s = None, 0, 0.0
            async for piece in iterate_in_thread(job.pieces, self._executor):
                reply = tts_pb2.StreamingSynthesizeResponse(
                    audio=piece.audio,
                    sentence_index=piece.sentence_index,
                    offset=duration(piece.offset, job.format.sample_rate),
                    duration=duration(piece.samples, job.format.sample_rate),
                )
                if first_s is None:
                    first_s = time.perf_counter() - started
                    reply.audio_format.CopyFrom(audio_format_to_proto(job.format))
                    reply.voice.CopyFrom(self._voice_message(job.voice))
                    firsts.started()
                    waiting_first = False
                samples += piece.samples
                yield reply
                if firsts.waiting:  # other streams' first pieces go before our next one
                    sent_s = samples / job.format.sample_rate
                    held_s += await firsts.give_way(
                        sent_s - (time.perf_counter() - started - first_s)
                    )
        except errors.ParleyError as exc:
            await abort_with(context, exc)
        finally:
            if waiting_first:
                firsts.started()
        if first_s is None:  # nothing audible came out: still say what the format was
            yield tts_pb2.StreamingSynthesizeResponse(
                audio_format=audio_format_to_proto(job.format),
                voice=self._voice_message(job.voice),
            )
        log.info(
            "synthesized stream",
            voice=job.voice.name,
            chars=len(request.text),
            audio_s=round(samples / job.format.sample_rate, 2),
            first_chunk_ms=round((first_s or 0.0) * 1000, 1),
            held_ms=round(held_s * 1000, 1),
            elapsed_s=round(time.perf_counter() - started, 3),
        )

    async def ListVoices(self, request, context: grpc.aio.ServicerContext):
        try:
            registry = self._registry_or_fail()
        except errors.ParleyError as exc:
            await abort_with(context, exc)
        voices = registry.voices(request.language, request.engine)
        return tts_pb2.ListVoicesResponse(voices=[self._voice_message(v) for v in voices])


def service(config: TtsConfig | None = None) -> Service:
    """The service as a server hosts it.

    Raises:
        SettingsError: if the settings are unusable.
    """
    config = (config or TtsConfig()).validate()
    servicer = TextToSpeechServicer(config)
    return Service(
        name=SERVICE_NAME,
        register=lambda server: register_servicer(
            server, servicer, tts_pb2.DESCRIPTOR.services_by_name["TextToSpeechService"]
        ),
        start=servicer.start,
        stop=servicer.stop,
    )


ENTRY = ServiceEntry(build=service, settings=TtsConfig)
