"""How fast translated speech may be spoken: Whisper's WER of sped-up synthesis.

Rooms speak a piece faster while its listeners are behind, up to ``PARLEY_ROOMS_CATCH_UP_RATE``.
This measures, for each language's default voice, the sentences of ``bench.sentences`` of four
words or more and those of the conversation set (``bench/data/conversation.jsonl``), about 160
per language, synthesised at several speaking rates (trimmed as rooms trim them) and
transcribed by Whisper base through a real ``parley serve``: WER and characters per second at
each rate, and the difference at the cap from 1x with its 90% interval (a paired bootstrap over
the sentences; a dozen sentences leave that difference too uncertain to judge). A machine
listener stands in for a person: where Whisper starts to mishear, people strain.

Target: at the default cap, WER no more than 0.02 above the voice's own rate, in every language.

Run: ``python -m bench.rates`` (about 30 minutes on 2 cores; ``--limit 40`` for a quick look,
``--languages es,en`` for some languages).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import numpy as np

from bench.paired import wer_difference_interval
from bench.room import Server
from bench.sentences import SENTENCES
from parley.v1 import audio_pb2, tts_pb2, tts_pb2_grpc
from parley_client import Connection
from services.rooms.config import RoomsConfig
from tests.speech import corpus_wer

LANGUAGES = ("en", "es", "fr", "de", "it")
RATES = (1.0, 1.5, 1.75, 2.0)
WER_MARGIN = 0.02
CONVERSATION = Path(__file__).resolve().parent / "data" / "conversation.jsonl"


def texts(language: str) -> list[str]:
    """The language's benchmark sentences of four words or more, then the conversation set's."""
    found = [t for t in SENTENCES[language] if len(t.split()) >= 4]
    with CONVERSATION.open(encoding="utf-8") as lines:
        found += [json.loads(line)[language] for line in lines if line.strip()]
    return list(dict.fromkeys(found))


async def measure(
    parley: Connection, language: str, rate: float, sentences: list[str]
) -> tuple[str, list[str], float]:
    """(voice, what Whisper heard of each sentence, characters per second) of ``sentences``
    spoken at ``rate``."""
    stub = tts_pb2_grpc.TextToSpeechServiceStub(parley.channel)
    heard, seconds, voice = [], 0.0, ""
    for text in sentences:
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
        results = await parley.stt.recognize(samples, 16_000, language)
        heard.append(" ".join(r.text for r in results))
    return voice, heard, sum(len(t) for t in sentences) / seconds


async def run(languages: tuple[str, ...], limit: int) -> bool:
    cap = RoomsConfig().catch_up_rate
    rates = tuple(sorted({*RATES, cap}))
    server = Server("whisper-base")
    await server.ready()
    passed = True
    try:
        async with Connection(server.address) as parley:
            print(f"{'language':<10}{'voice':<26}" + "".join(f"{r:>8.2f}x" for r in rates))
            for language in languages:
                sentences = texts(language)[: limit or None]
                found = {rate: await measure(parley, language, rate, sentences) for rate in rates}
                voice = found[1.0][0]
                wers = {r: corpus_wer(zip(sentences, found[r][1], strict=True)) for r in rates}
                print(f"{language:<10}{voice:<26}" + "".join(f"{wers[r]:>9.3f}" for r in rates))
                print(f"{'':<10}{'characters per second':<26}" + "".join(
                    f"{found[r][2]:>9.1f}" for r in rates))  # fmt: skip
                over = wers[cap] - wers[1.0]
                low, high = wer_difference_interval(sentences, found[cap][1], found[1.0][1])
                ok = over <= WER_MARGIN
                passed &= ok
                print(f"{'':<10}WER at the cap ({cap}x) - at 1.0x: {over:+.3f} (90% interval "
                      f"{low:+.3f} to {high:+.3f}, {len(sentences)} sentences)  target "
                      f"{WER_MARGIN}  {'PASS' if ok else 'FAIL'}", flush=True)  # fmt: skip
    finally:
        server.stop()
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.rates", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--languages", default=",".join(LANGUAGES), help="comma-separated")
    parser.add_argument("--limit", type=int, default=0, help="sentences per language (0: all)")
    args = parser.parse_args()
    languages = tuple(args.languages.split(","))
    return 0 if asyncio.run(run(languages, args.limit)) else 1


if __name__ == "__main__":
    sys.exit(main())
