"""Speech-to-text benchmark: latency from end of speech to final result, and real-time factor.

Streams spoken sentences (English and Spanish, SVOX Pico voices) to a SpeechToTextService in
100 ms chunks at real-time pace, for each model, and reports per model and mode:
- latency: from the moment the last speech sample was sent to the final result's arrival;
- RTF: recognition time of the final divided by the utterance's duration.

Target (issue 3): every final within 1.5 s of the end of speech with whisper-base.
Run: ``python -m bench.stt`` (``--quick`` for one pass).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

import grpc
import numpy as np

from parley.server import ServerConfig, running
from parley.v1 import audio_pb2, stt_pb2, stt_pb2_grpc
from services.stt.config import SttConfig
from services.stt.servicer import service
from tests.speech import pcm16, silence, speak, voiced_span_ms, wer

SENTENCES = [
    ("The weather is lovely today, so we will walk to the park.", "en"),
    ("Please send me the report before the meeting on Friday.", "en"),
    ("Buenos días, me gustaría reservar una mesa para cuatro personas.", "es"),
    ("El tren sale a las ocho de la mañana.", "es"),
]
TARGET_S = 1.5
CHUNK_S = 0.1


async def stream_one(stub, text: str, language: str, model: str, detect: bool, interim: bool):
    """Streams one sentence at real-time pace; returns (latency s, rtf, wer, text)."""
    clip = speak(text, language)
    samples = np.concatenate([silence(0.3), clip, silence(1.5)])
    speech_end_s = 0.3 + voiced_span_ms(clip)[1] / 1000
    data = pcm16(samples)
    step = int(16_000 * CHUNK_S) * 2
    config = stt_pb2.RecognitionConfig(
        model=model, language="" if detect else language, interim_results=interim
    )
    start = time.perf_counter()

    async def requests():
        yield stt_pb2.StreamingRecognizeRequest(config=config)
        for i in range(0, len(data), step):
            await asyncio.sleep(max(0.0, start + i / 32_000 - time.perf_counter()))
            yield stt_pb2.StreamingRecognizeRequest(
                audio=audio_pb2.AudioChunk(data=data[i : i + step])
            )

    final = None
    async for response in stub.StreamingRecognize(requests()):
        if response.HasField("result") and response.result.is_final and final is None:
            final = (time.perf_counter(), response.result)
    if final is None:
        return None
    arrived, result = final
    latency = arrived - (start + speech_end_s)
    duration = (result.end_offset.ToNanoseconds() - result.start_offset.ToNanoseconds()) / 1e9
    rtf = result.processing_time.ToNanoseconds() / 1e9 / duration
    return latency, rtf, wer(text, result.text), result.text


async def run(rounds: int) -> int:
    config = SttConfig(preload="start")
    rows, verdict = [], True
    async with running(
        [service(config)], ServerConfig(host="127.0.0.1", port=0, auth="disabled")
    ) as server:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = stt_pb2_grpc.SpeechToTextServiceStub(channel)
            await stub.Recognize(  # warm the models up
                stt_pb2.RecognizeRequest(
                    config=stt_pb2.RecognitionConfig(model="whisper-tiny.en"),
                    audio=pcm16(speak(SENTENCES[0][0], "en")),
                )
            )
            modes = [
                ("whisper-base", "language given", False, False),
                ("whisper-base", "language detected", True, False),
                ("whisper-base", "given + interim", False, True),
                ("whisper-tiny.en", "language given", False, False),
            ]
            for model, label, detect, interim in modes:
                sentences = [s for s in SENTENCES if model != "whisper-tiny.en" or s[1] == "en"]
                results = []
                for _ in range(rounds):
                    for text, language in sentences:
                        outcome = await stream_one(stub, text, language, model, detect, interim)
                        results.append(outcome)
                got = [r for r in results if r is not None]
                latencies = [r[0] for r in got]
                row = (
                    model,
                    label,
                    len(got),
                    len(results),
                    statistics.median(latencies),
                    max(latencies),
                    statistics.median(r[1] for r in got),
                    statistics.mean(r[2] for r in got),
                )
                rows.append(row)
                if model == "whisper-base" and not detect and not interim:
                    verdict = verdict and len(got) == len(results) and max(latencies) <= TARGET_S
    print(f"{'model':<17}{'mode':<19}{'finals':>8}{'p50 s':>8}{'max s':>8}{'RTF':>7}{'WER':>7}")
    for model, label, n, total, p50, worst, rtf, mean_wer in rows:
        print(
            f"{model:<17}{label:<19}{f'{n}/{total}':>8}{p50:>8.2f}{worst:>8.2f}{rtf:>7.2f}{mean_wer:>7.2f}"
        )
    print(
        f"end of speech -> final, whisper-base, language given: max <= {TARGET_S} s: "
        f"{'PASS' if verdict else 'FAIL'}"
    )
    return 0 if verdict else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="passes over the sentences")
    args = parser.parse_args()
    return asyncio.run(run(args.rounds))


if __name__ == "__main__":
    sys.exit(main())
