"""Real speech for tests, spoken by SVOX Pico (pico2wave) and cached per text."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile

from parley.audio import resample

PICO_LANGS = {"en": "en-US", "es": "es-ES", "fr": "fr-FR", "de": "de-DE", "it": "it-IT"}
_CACHE = Path(tempfile.gettempdir()) / "parley-test-speech"


@lru_cache(maxsize=64)
def speak(text: str, language: str, rate: int = 16_000) -> np.ndarray:
    """``text`` spoken in ``language`` as mono float32 at ``rate``."""
    pico = shutil.which("pico2wave")
    if pico is None:
        raise RuntimeError("pico2wave is missing: run the README set-up (libttspico-utils)")
    _CACHE.mkdir(exist_ok=True)
    key = hashlib.sha1(f"{language}|{text}".encode()).hexdigest()[:16]
    path = _CACHE / f"{key}.wav"
    if not path.exists():
        tmp = _CACHE / f"{key}.tmp.wav"
        subprocess.run([pico, "-l", PICO_LANGS[language], "-w", str(tmp), text], check=True)
        tmp.replace(path)
    samples, source_rate = soundfile.read(path, dtype="float32")
    return resample(samples, source_rate, rate)


def silence(seconds: float, rate: int = 16_000) -> np.ndarray:
    return np.zeros(int(seconds * rate), dtype=np.float32)


def pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def plain(text: str) -> str:
    """``text`` without accents (é -> e), as the WER here compares words."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate after lowercasing and removing punctuation and accents."""
    return corpus_wer([(reference, hypothesis)])


def corpus_wer(pairs) -> float:
    """Word error rate of many (reference, hypothesis) pairs together: all their errors over
    all their reference words (as sclite and jiwer count a corpus), so that a three-word
    sentence weighs as three words, not as much as a long one."""
    import jiwer

    norm = jiwer.Compose(
        [
            jiwer.ToLowerCase(),
            jiwer.RemovePunctuation(),
            jiwer.RemoveMultipleSpaces(),
            jiwer.Strip(),
            jiwer.ReduceToListOfListOfWords(),
        ]
    )
    pairs = list(pairs)
    return jiwer.wer(
        [plain(r) for r, _ in pairs],
        [plain(h) for _, h in pairs],
        reference_transform=norm,
        hypothesis_transform=norm,
    )


def voiced_span_ms(samples: np.ndarray, rate: int = 16_000) -> tuple[float, float]:
    """First and last moment (ms) where the clip is louder than -40 dBFS in a 10 ms window."""
    window = rate // 100
    frames = samples[: samples.size // window * window].reshape(-1, window)
    loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > 0.01)
    return float(loud[0] * 10), float((loud[-1] + 1) * 10)


def write_wav(path, pieces, rate: int = 16_000):
    """Writes the concatenated mono pieces as a 16-bit WAV file."""
    soundfile.write(str(path), np.concatenate(pieces), rate, subtype="PCM_16")
    return path


async def transcribe(address: str, pcm: bytes, language: str, api_key: str = "") -> str:
    """What the SpeechToTextService at ``address`` hears in 16 kHz 16-bit mono ``pcm``."""
    from parley.v1 import audio_pb2, stt_pb2, stt_pb2_grpc
    from parley_client.connection import ConnectionOptions, make_channel

    async with make_channel(address, ConnectionOptions(api_key=api_key or None)) as channel:
        reply = await stt_pb2_grpc.SpeechToTextServiceStub(channel).Recognize(
            stt_pb2.RecognizeRequest(
                config=stt_pb2.RecognitionConfig(
                    language=language, audio_format=audio_pb2.AudioFormat(sample_rate_hz=16_000)
                ),
                audio=pcm,
            ),
            timeout=60,
        )
    return " ".join(r.text for r in reply.results)


async def say_and_hear(parley, room_id: str, text: str, speak_as: str, hear_in: str, token=""):
    """One participant says ``text`` (Pico's voice) into a room through the SDK connection
    ``parley``, another listens in ``hear_in``; returns the listener's final caption."""
    import asyncio

    listener = parley.rooms.join(room_id, "Listener", hear_in, join_token=token)
    speaker = parley.rooms.join(room_id, "Speaker", speak_as, speak_as, join_token=token)
    speaker.send_audio(pcm16(speak(text, speak_as)) + pcm16(silence(1.5)))

    async def first_final():
        async for event in listener.events():
            if event.HasField("caption") and event.caption.is_final:
                return event.caption

    try:
        return await asyncio.wait_for(first_final(), timeout=120)
    finally:
        speaker.leave()
        listener.leave()
