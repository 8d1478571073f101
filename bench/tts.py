"""Text-to-speech speed per engine and language: time to the first streamed chunk, and the
real-time factor (synthesis time / audio length), measured as a client sees them.

Starts ``python -m services.tts`` on a free port with this environment's settings (so a
configured Coqui checkpoint or ElevenLabs key is measured too), warms each voice up once, then
streams one sentence several times per voice (LINEAR16 at 16 kHz unless ``--rate`` says).
Targets: first chunk under 100 ms for Pico and espeak-ng; a real-time factor under 1 for every
engine. Run: ``python -m bench.tts``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from parley.v1 import audio_pb2, tts_pb2, tts_pb2_grpc

SERVICE = "parley.v1.TextToSpeechService"
FIRST_CHUNK_TARGET_MS = {"pico": 100.0, "espeak-ng": 100.0}
RTF_TARGET = 1.0
SENTENCES = {
    "en": "The weather is lovely today, so we are going to the park after lunch.",
    "es": "Hoy hace muy buen tiempo, así que vamos a ir al parque después de comer.",
    "fr": "Il fait très beau aujourd'hui, alors nous irons au parc après le déjeuner.",
    "de": "Heute ist das Wetter sehr schön, also gehen wir nach dem Essen in den Park.",
    "it": "Oggi il tempo è bellissimo, quindi andiamo al parco dopo pranzo.",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, timeout: float = 60.0) -> subprocess.Popen:
    env = {
        **os.environ,
        "PARLEY_HOST": "127.0.0.1",
        "PARLEY_PORT": str(port),
        "PARLEY_AUTH": "disabled",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "services.tts"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return process
            except grpc.RpcError:
                time.sleep(0.05)
    process.kill()
    raise RuntimeError("the TTS service did not become SERVING")


def measure(stub, voice: str, text: str, rate: int) -> tuple[float, float, float]:
    """(first chunk ms, total s, audio s) for one stream at ``rate`` (0: the voice's own)."""
    request = tts_pb2.StreamingSynthesizeRequest(
        text=text,
        voice=tts_pb2.VoiceSelection(voice=voice),
        audio_format=audio_pb2.AudioFormat(
            encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hz=rate
        ),
    )
    start = time.perf_counter()
    first, samples, out_rate = None, 0, 0
    for reply in stub.StreamingSynthesize(request, timeout=120):
        if first is None:
            first = (time.perf_counter() - start) * 1000
            out_rate = reply.audio_format.sample_rate_hz
        samples += len(reply.audio) // 2
    total = time.perf_counter() - start
    return first or 0.0, total, samples / out_rate if out_rate else 0.0


def cases(stub) -> list[tuple[str, str, str]]:
    """(engine, language, voice): each engine's best voice for each benchmark language."""
    found = []
    best: dict[str, int] = {}
    for voice in stub.ListVoices(tts_pb2.ListVoicesRequest(), timeout=30).voices:
        best[voice.engine] = max(best.get(voice.engine, 0), voice.quality)
    for engine in sorted(best, key=lambda name: -best[name]):
        for language in SENTENCES:
            listed = stub.ListVoices(
                tts_pb2.ListVoicesRequest(language=language, engine=engine), timeout=30
            ).voices
            if listed:
                found.append((engine, language, listed[0].name))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="measured streams per voice")
    parser.add_argument(
        "--rate", type=int, default=16_000, help="output rate asked for (0: each voice's own)"
    )
    args = parser.parse_args()
    port = free_port()
    process = start_server(port)
    failed = False
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = tts_pb2_grpc.TextToSpeechServiceStub(channel)
            header = f"{'engine':<11}{'lang':<6}{'voice':<28}{'first chunk ms':>16}"
            print(f"{header}{'target':>8}{'RTF':>8}{'target':>8}  result")
            for engine, language, voice in cases(stub):
                text = SENTENCES[language]
                measure(stub, voice, text, args.rate)  # warm-up: loads the model
                runs = [measure(stub, voice, text, args.rate) for _ in range(args.runs)]
                first_ms = statistics.median(r[0] for r in runs)
                rtf = statistics.median(r[1] / r[2] for r in runs if r[2])
                target = FIRST_CHUNK_TARGET_MS.get(engine)
                ok = rtf < RTF_TARGET and (target is None or first_ms < target)
                failed |= not ok
                shown = f"{target:.0f}" if target else "-"
                print(
                    f"{engine:<11}{language:<6}{voice:<28}{first_ms:>16.1f}{shown:>8}"
                    f"{rtf:>8.3f}{RTF_TARGET:>8.1f}  {'PASS' if ok else 'FAIL'}"
                )
    finally:
        process.terminate()
        process.wait(timeout=30)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
