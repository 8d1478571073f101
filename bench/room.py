"""Room benchmark: the latency a listener feels, through a real `parley serve`.

Speech is generated for the purpose by the server's own voices (sentences of 1 to 8 s, English
and Spanish speakers) and streamed into rooms in real time. Measured at the listeners:
- end of speech -> first translated audio chunk, p50/p95, per Whisper model;
- the same split by stage (endpointing, recognition, translation, synthesis to first chunk,
  delivery), from the server's UtteranceAudioBegin timings;
- end of speech -> final caption;
- fan-out: 1, 10, 50 and 200 listeners in 3 languages: server CPU seconds per utterance and
  the p99 spread between the first and the last listener to get the audio;
- 1, 2 and 4 people speaking at once;
- resident memory of `parley serve` after warm-up.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from parley_client import Connection
from parley_client.audio import from_pcm16

RATE = 16_000
CHUNK_MS = 100
SENTENCES = {
    "en": [
        "Yes, of course.",
        "Please send me the report before Friday.",
        "The weather is lovely today, so we will walk to the park after lunch.",
        "I think we should start the project next week, and we can review the plan together "
        "on Monday morning.",
    ],
    "es": [
        "Sí, claro.",
        "Por favor, envíame el informe antes del viernes.",
        "Hace muy buen tiempo hoy, así que iremos al parque después de comer.",
        "Creo que deberíamos empezar el proyecto la semana que viene y revisar el plan juntos "
        "el lunes por la mañana.",
    ],
}
LISTEN = {"en": ["es", "fr", "it"], "es": ["en", "fr", "it"]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`parley serve` in a child process, with its CPU time and memory readable."""

    def __init__(self, model: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "PARLEY_HOST": "127.0.0.1",
            "PARLEY_PORT": str(self.port),
            "PARLEY_STT_PRELOAD": "start",
            "PARLEY_AUTH": "disabled",
            "PARLEY_STT_MODEL": model,
            "PARLEY_ROOMS_MAX_PARTICIPANTS": "500",
            "PARLEY_LOG_LEVEL": "warning",
            **(env or {}),
        }
        parley = str(Path(sys.executable).parent / "parley")
        self.process = subprocess.Popen([parley, "serve"], env=env, stderr=subprocess.DEVNULL)
        self.address = f"127.0.0.1:{self.port}"

    async def ready(self) -> None:
        """Returns once every service has started (the server's overall health is SERVING)."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                async with grpc.aio.insecure_channel(self.address) as channel:
                    reply = await health_pb2_grpc.HealthStub(channel).Check(
                        health_pb2.HealthCheckRequest(), timeout=5
                    )
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:  # not listening yet
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError("parley serve did not start")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@dataclass
class Line:
    """A sentence spoken for the benchmark."""

    language: str
    text: str
    pcm: bytes
    speech_s: float  # where the voiced part ends


def _speech_end(samples: np.ndarray) -> float:
    window = RATE // 100
    frames = samples[: samples.size // window * window].reshape(-1, window)
    loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > 0.01)
    return (loud[-1] + 1) * window / RATE if loud.size else 0.0


async def make_lines(address: str) -> dict[str, list[Line]]:
    lines: dict[str, list[Line]] = {}
    async with Connection(address) as parley:
        for language, texts in SENTENCES.items():
            for text in texts:
                speech = await parley.tts.synthesize(text, language, rate=RATE)
                pcm = (np.clip(speech.samples, -1, 1) * 32767).astype("<i2").tobytes()
                lines.setdefault(language, []).append(
                    Line(language, text, pcm, _speech_end(speech.samples))
                )
    return lines


def utterance_of(piece_id: str) -> str:
    """The utterance a caption or audio belongs to: an utterance heard in pieces while the
    speaker went on gives its later pieces its id and ``.1``, ``.2``..."""
    head, _, tail = piece_id.rpartition(".")
    return head if head and tail.isdigit() else piece_id


@dataclass
class Received:
    """What one listener got of one utterance, in wall-clock seconds."""

    first_audio: float | None = None
    caption: float | None = None
    timings: dict = field(default_factory=dict)


class Listener:
    def __init__(self, session) -> None:
        self.session = session
        self.by_speaker: dict[str, list[Received]] = {}
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        current: dict[str, Received] = {}  # by utterance
        latest: dict[str, str] = {}  # utterance -> the id of its latest piece
        async for event in self.session.events():
            now = time.perf_counter()
            kind = event.WhichOneof("event")
            if kind == "caption" and event.caption.is_final:
                piece = event.caption.utterance_id
                whole = utterance_of(piece)
                if whole not in current:
                    self.by_speaker.setdefault(event.caption.speaker_id, []).append(
                        current.setdefault(whole, Received())
                    )
                # An utterance heard in pieces is timed by its last piece: its last words.
                got = current[whole]
                got.caption, latest[whole] = now, piece
                got.first_audio = None
            elif kind == "audio_begin":
                piece = event.audio_begin.utterance_id
                if latest.get(utterance_of(piece)) != piece:
                    continue
                got = current[utterance_of(piece)]
                t = event.audio_begin.timings
                got.timings = {
                    "endpointing": t.endpointing.ToNanoseconds() / 1e9,
                    "recognition": t.recognition.ToNanoseconds() / 1e9,
                    "translation": t.translation.ToNanoseconds() / 1e9,
                    "synthesis": t.synthesis_first_chunk.ToNanoseconds() / 1e9,
                }
            elif kind == "audio_chunk":
                piece = event.audio_chunk.utterance_id
                if latest.get(utterance_of(piece)) != piece:
                    continue
                got = current[utterance_of(piece)]
                if got.first_audio is None:
                    got.first_audio = now


async def speak(session, line: Line, pause_s: float = 1.5) -> float:
    """Streams a line in real time; returns the wall time its speech ended."""
    data = line.pcm + b"\0\0" * int(RATE * pause_s)
    step = RATE * CHUNK_MS // 1000 * 2
    t0 = time.perf_counter()
    for i in range(0, len(data), step):
        await asyncio.sleep(max(0.0, t0 + i / 2 / RATE - time.perf_counter()))
        session.send_audio(data[i : i + step])
    return t0 + line.speech_s


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


__all__ = ["Server", "Listener", "make_lines", "speak", "percentile", "from_pcm16", "LISTEN"]
