"""How fast translated speech may be spoken: Whisper's WER of sped-up synthesis.

Rooms speak a piece faster while its listeners are behind, up to ``PARLEY_ROOMS_CATCH_UP_RATE``.
This measures, for each language's default voice, the sentences of ``bench.sentences`` of four
words or more synthesised at several speaking rates (trimmed as rooms trim them), transcribed by
Whisper base through a real ``parley serve``: WER and characters per second at each rate. A
machine listener stands in for a person: where Whisper starts to mishear, people strain.

Target: at the default cap, WER no more than 0.02 above the voice's own rate, in every language.

Run: ``python -m bench.rates`` (about 4 minutes).
"""

from __future__ import annotations

import asyncio
import sys

import numpy as np

from bench.room import Server
from bench.sentences import SENTENCES
from parley.v1 import audio_pb2, tts_pb2, tts_pb2_grpc
from parley_client import Connection
from services.rooms.config import RoomsConfig
from tests.speech import corpus_wer

LANGUAGES = ("en", "es", "fr", "de", "it")
RATES = (1.0, 1.5, 1.75, 2.0, 2.25)
WER_MARGIN = 0.02


async def measure(parley: Connection, language: str, rate: float) -> tuple[str, float, float]:
    """(voice, WER, characters per second) of the language's sentences spoken at ``rate``."""
    stub = tts_pb2_grpc.TextToSpeechServiceStub(parley.channel)
    pairs, seconds, chars, voice = [], 0.0, 0, ""
    for text in (t for t in SENTENCES[language] if len(t.split()) >= 4):
        reply = await stub.Synthesize(
            tts_pb2.SynthesizeRequest(
                text=text,
                voice=tts_pb2.VoiceSelection(language=language),
                audio_format=audio_pb2.AudioFormat(
                    encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hz=16_000
                ),
                options=tts_pb2.SynthesisOptions(speaking_rate=rate, trim_silence=True),
            )
        )
        voice = reply.voice.name
        samples = np.frombuffer(reply.audio, "<i2").astype(np.float32) / 32768
        seconds += samples.size / 16_000
        chars += len(text)
        heard = await parley.stt.recognize(samples, 16_000, language)
        pairs.append((text, " ".join(r.text for r in heard)))
    return voice, corpus_wer(pairs), chars / seconds


async def run() -> bool:
    cap = RoomsConfig().catch_up_rate
    server = Server("whisper-base")
    await server.ready()
    passed = True
    try:
        async with Connection(server.address) as parley:
            print(f"{'language':<10}{'voice':<26}" + "".join(f"{r:>8.2f}x" for r in RATES))
            for language in LANGUAGES:
                found = {rate: await measure(parley, language, rate) for rate in (*RATES, cap)}
                voice = found[1.0][0]
                print(f"{language:<10}{voice:<26}" + "".join(
                    f"{found[r][1]:>9.3f}" for r in RATES))  # fmt: skip
                print(f"{'':<10}{'characters per second':<26}" + "".join(
                    f"{found[r][2]:>9.1f}" for r in RATES))  # fmt: skip
                over = found[cap][1] - found[1.0][1]
                ok = over <= WER_MARGIN
                passed &= ok
                print(f"{'':<10}WER at the cap ({cap}x) - at 1.0x: {over:+.3f}  target "
                      f"{WER_MARGIN}  {'PASS' if ok else 'FAIL'}")  # fmt: skip
    finally:
        server.stop()
    return passed


def main() -> int:
    return 0 if asyncio.run(run()) else 1


if __name__ == "__main__":
    sys.exit(main())
