"""TextToSpeechService over gRPC with the real engines: audio, formats, voices and streaming."""

from __future__ import annotations

import asyncio
import io

import grpc
import numpy as np
import pytest
import soundfile

from parley.v1 import audio_pb2, tts_pb2
from tests.speech import voiced_span_ms
from tests.tts.conftest import SENTENCES, plausible_seconds, rms, speak

LINEAR16 = audio_pb2.AUDIO_ENCODING_LINEAR16
FLOAT32 = audio_pb2.AUDIO_ENCODING_FLOAT32
WAV = audio_pb2.AUDIO_ENCODING_WAV


@pytest.mark.parametrize(
    ("language", "rate", "encoding", "engine"),
    [
        ("en", 16_000, LINEAR16, "piper"),
        ("es", 24_000, FLOAT32, "pico"),
        ("fr", 8_000, LINEAR16, "pico"),
        ("de", 48_000, LINEAR16, "pico"),
        ("it", 0, FLOAT32, "pico"),
    ],
)
async def test_each_language_streams_audible_speech_of_plausible_length_at_the_asked_rate(
    tts_stub, language, rate, encoding, engine
):
    text = SENTENCES[language]
    spoken = await speak(tts_stub, text, language, rate=rate, encoding=encoding)

    assert spoken.voice.engine == engine
    assert language in spoken.voice.default_for_languages
    native = spoken.voice.sample_rate_hz
    assert spoken.rate == (rate or native)
    assert spoken.replies[0].audio_format.encoding == encoding
    assert len(spoken.replies) > 1, "audio should stream in several chunks"
    assert rms(spoken.samples) > 0.02, "speech should be audible"
    low, high = plausible_seconds(text)
    assert low <= spoken.seconds <= high, spoken.seconds


async def test_offsets_and_sentence_indexes_follow_the_audio(tts_stub):
    text = "First sentence here. Second one follows! And a third?"
    spoken = await speak(tts_stub, text, "en", engine="pico", rate=16_000)
    position = 0
    for reply in spoken.replies:
        offset = reply.offset.seconds * 16_000 + reply.offset.nanos * 16_000 // 10**9
        assert abs(offset - position) <= 1
        position += len(reply.audio) // 2
    indexes = [r.sentence_index for r in spoken.replies]
    assert indexes == sorted(indexes)
    assert indexes[0] == 0 and indexes[-1] == 2
    assert spoken.replies[0].HasField("voice") and not spoken.replies[1].HasField("voice")


async def test_the_output_rate_is_really_resampled(tts_stub):
    """Pico speaks the same text with the same length every time: the sample count at
    each rate must scale with the rate."""
    text = SENTENCES["es"]
    native = await speak(tts_stub, text, "es", voice="pico:es-ES")
    assert native.rate == 16_000
    for rate in (8_000, 22_050, 44_100):
        other = await speak(tts_stub, text, "es", voice="pico:es-ES", rate=rate)
        expected = native.samples.shape[0] * rate / 16_000
        assert abs(other.samples.shape[0] - expected) / expected < 0.01


async def test_synthesize_returns_a_whole_wav_file_with_its_duration(tts_stub):
    reply = await tts_stub.Synthesize(
        tts_pb2.SynthesizeRequest(
            text=SENTENCES["de"],
            voice=tts_pb2.VoiceSelection(language="de"),
            audio_format=audio_pb2.AudioFormat(encoding=WAV, sample_rate_hz=22_050),
        ),
        timeout=60,
    )
    samples, rate = soundfile.read(io.BytesIO(reply.audio), dtype="float32")
    assert rate == 22_050 and reply.audio_format.sample_rate_hz == 22_050
    assert reply.audio_format.encoding == WAV and reply.audio_format.channels == 1
    assert reply.voice.name == "pico:de-DE"
    duration = reply.duration.seconds + reply.duration.nanos / 1e9
    assert abs(duration - samples.shape[0] / rate) < 0.001
    assert rms(samples) > 0.02
    low, high = plausible_seconds(SENTENCES["de"])
    assert low <= duration <= high


async def test_synthesize_raw_pcm_at_the_native_rate(tts_stub):
    reply = await tts_stub.Synthesize(
        tts_pb2.SynthesizeRequest(
            text="Guten Morgen.", voice=tts_pb2.VoiceSelection(voice="espeak-ng:de+f3")
        )
    )
    assert reply.audio_format.encoding == LINEAR16
    assert reply.audio_format.sample_rate_hz == reply.voice.sample_rate_hz == 22_050
    samples = np.frombuffer(reply.audio, dtype="<i2")
    assert samples.shape[0] == round((reply.duration.seconds + reply.duration.nanos / 1e9) * 22_050)
    assert reply.voice.gender == tts_pb2.VOICE_GENDER_FEMALE


async def test_list_voices_ranks_neural_then_standard_then_formant(tts_stub):
    reply = await tts_stub.ListVoices(tts_pb2.ListVoicesRequest(language="en"))
    names = [v.name for v in reply.voices]
    assert names[0] == "piper:en_US-joe-medium"
    assert names[1:3] == ["pico:en-US", "pico:en-GB"]
    qualities = [v.quality for v in reply.voices]
    assert qualities == sorted(qualities, reverse=True)
    joe = reply.voices[0]
    assert joe.engine == "piper" and joe.sample_rate_hz == 22_050
    assert list(joe.languages) == ["en-US"] and "en" in joe.default_for_languages
    assert joe.gender == tts_pb2.VOICE_GENDER_MALE and joe.quality == tts_pb2.VOICE_QUALITY_NEURAL
    assert {"espeak-ng:en-US", "espeak-ng:en-US+f3", "espeak-ng:en-US+m3"} <= set(names)

    pico = await tts_stub.ListVoices(tts_pb2.ListVoicesRequest(engine="pico"))
    assert {v.name for v in pico.voices} == {
        f"pico:{lang}" for lang in ("en-US", "en-GB", "de-DE", "es-ES", "fr-FR", "it-IT")
    }
    assert all(v.sample_rate_hz == 16_000 for v in pico.voices)

    everything = await tts_stub.ListVoices(tts_pb2.ListVoicesRequest())
    languages = {lang.split("-")[0] for v in everything.voices for lang in v.languages}
    assert len(languages) > 100, "espeak-ng speaks every other language"
    assert (await tts_stub.ListVoices(tts_pb2.ListVoicesRequest(language="xx"))).voices == []


async def test_a_region_asked_for_gets_a_voice_of_that_region(tts_stub):
    spoken = await speak(tts_stub, "Good morning.", "en-GB")
    assert spoken.voice.name == "pico:en-GB"


async def test_other_languages_fall_back_to_espeak_ng(tts_stub):
    text = "Bom dia, como vai você?"
    spoken = await speak(tts_stub, text, "pt")
    assert spoken.voice.engine == "espeak-ng" and spoken.voice.name.startswith("espeak-ng:pt")
    assert rms(spoken.samples) > 0.02
    low, high = plausible_seconds(text)
    assert low <= spoken.seconds <= high


async def test_a_named_voice_or_engine_is_honoured(tts_stub):
    named = await speak(tts_stub, "Hallo zusammen.", "de", voice="espeak-ng:de+m3")
    assert named.voice.name == "espeak-ng:de+m3"
    restricted = await speak(tts_stub, "Hallo zusammen.", "de", engine="espeak-ng")
    assert restricted.voice.name == "espeak-ng:de"
    plain = await speak(tts_stub, "Hallo zusammen.", "de", voice="espeak-ng:de")
    assert not np.array_equal(named.samples, plain.samples), "variants should sound different"


async def test_speaker_keys_get_stable_and_distinct_voices(tts_stub):
    async def clip_for(key: str, language: str, engine: str = "") -> tuple[str, int]:
        """Voice name and clip length (a pitch variant also changes the length)."""
        reply = await tts_stub.Synthesize(
            tts_pb2.SynthesizeRequest(
                text="Yes, I agree.",
                voice=tts_pb2.VoiceSelection(language=language, speaker_key=key, engine=engine),
                audio_format=audio_pb2.AudioFormat(sample_rate_hz=16_000),
            )
        )
        return reply.voice.name, len(reply.audio)

    keys = [f"participant-{i}" for i in range(12)]
    spanish = [await clip_for(key, "es") for key in keys]
    assert {name for name, _ in spanish} == {"pico:es-ES"}, "the best voice for everyone"
    assert len({size for _, size in spanish}) >= 3, "but speakers sound different"
    assert [await clip_for(key, "es") for key in keys[:4]] == spanish[:4], "stable per key"
    english = {(await clip_for(key, "en", "pico"))[0] for key in keys}
    assert english == {"pico:en-US", "pico:en-GB"}


@pytest.mark.parametrize(
    ("request_fields", "code", "words"),
    [
        ({"text": ""}, grpc.StatusCode.INVALID_ARGUMENT, ["empty"]),
        ({"text": "  \n "}, grpc.StatusCode.INVALID_ARGUMENT, ["empty"]),
        ({"text": "😀👍🏽 🎉"}, grpc.StatusCode.INVALID_ARGUMENT, ["nothing to speak"]),
        ({"text": "hi", "language": ""}, grpc.StatusCode.INVALID_ARGUMENT, ["voice.language"]),
        ({"text": "hi", "language": "xx"}, grpc.StatusCode.INVALID_ARGUMENT, ["'xx'", "es", "de"]),
        (
            {"text": "hi", "language": "es", "voice": "pico:es-MX"},
            grpc.StatusCode.INVALID_ARGUMENT,
            ["pico:es-MX", "pico:es-ES", "espeak-ng:es"],
        ),
        (
            {"text": "hi", "language": "es", "voice": "pico:de-DE"},
            grpc.StatusCode.INVALID_ARGUMENT,
            ["de-DE", "not 'es'"],
        ),
        (
            {"text": "hi", "language": "es", "engine": "festival"},
            grpc.StatusCode.INVALID_ARGUMENT,
            ["festival", "pico", "espeak-ng"],
        ),
        (
            {"text": "a" * 20_001, "language": "es"},
            grpc.StatusCode.INVALID_ARGUMENT,
            ["20001", "20000"],
        ),
        (
            {"text": "hi", "language": "es", "speaking_rate": 5},
            grpc.StatusCode.INVALID_ARGUMENT,
            ["speaking_rate"],
        ),
        (
            {"text": "hi", "language": "es", "rate": 1000},
            grpc.StatusCode.INVALID_ARGUMENT,
            ["1000 Hz"],
        ),
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
async def test_bad_requests_are_invalid_argument_naming_the_problem(
    tts_stub, request_fields, code, words, streaming
):
    fields = dict(request_fields)
    voice = tts_pb2.VoiceSelection(
        language=fields.pop("language", "en"),
        voice=fields.pop("voice", ""),
        engine=fields.pop("engine", ""),
    )
    options = tts_pb2.SynthesisOptions(speaking_rate=fields.pop("speaking_rate", 0))
    audio_format = audio_pb2.AudioFormat(sample_rate_hz=fields.pop("rate", 0))
    kind = tts_pb2.StreamingSynthesizeRequest if streaming else tts_pb2.SynthesizeRequest
    request = kind(voice=voice, options=options, audio_format=audio_format, **fields)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        if streaming:
            async for _ in tts_stub.StreamingSynthesize(request, timeout=30):
                pass
        else:
            await tts_stub.Synthesize(request, timeout=30)
    assert info.value.code() == code
    for word in words:
        assert word in info.value.details()


async def test_wav_cannot_be_streamed(tts_stub):
    request = tts_pb2.StreamingSynthesizeRequest(
        text="hi",
        voice=tts_pb2.VoiceSelection(language="es"),
        audio_format=audio_pb2.AudioFormat(encoding=WAV),
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in tts_stub.StreamingSynthesize(request):
            pass
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "WAV" in info.value.details()


async def test_emoji_are_skipped_and_markup_is_read_as_text(tts_stub):
    plain = await speak(tts_stub, "Hello world, nice to see you!", "en", voice="pico:en-US")
    decorated = await speak(
        tts_stub, "Hello 😀 world 👍🏽, nice 🎉 to see you! 🇺🇸", "en", voice="pico:en-US"
    )
    assert abs(decorated.seconds - plain.seconds) < 0.15, "emoji should add no speech"

    words = "one two three four five six seven eight nine ten"
    bare = await speak(tts_stub, words, "en", voice="pico:en-US")
    # Were the tag obeyed, Pico would speak five times faster; read as text, it adds words.
    tagged = await speak(tts_stub, f'<speed level="500">{words}</speed>', "en", voice="pico:en-US")
    assert tagged.seconds > bare.seconds
    html = await speak(tts_stub, "<b>Bold</b> & <i>italic</i> text.", "en", voice="espeak-ng:en")
    assert rms(html.samples) > 0.02


async def test_speaking_rate_changes_the_duration(tts_stub):
    text = SENTENCES["de"]
    normal = await speak(tts_stub, text, "de", voice="espeak-ng:de")
    fast = await speak(tts_stub, text, "de", voice="espeak-ng:de", speaking_rate=2.0)
    slow = await speak(tts_stub, text, "de", voice="espeak-ng:de", speaking_rate=0.5)
    assert fast.seconds < normal.seconds * 0.75
    assert slow.seconds > normal.seconds * 1.3


def pitch_hz(samples: np.ndarray, rate: int) -> float:
    """Median fundamental frequency of the loud 40 ms frames (autocorrelation, 70-400 Hz)."""
    size, found = rate * 40 // 1000, []
    for start in range(0, samples.size - size, size):
        frame = samples[start : start + size].astype(np.float64)
        if rms(frame) < 0.03:
            continue
        frame -= frame.mean()
        corr = np.correlate(frame, frame, "full")[size - 1 :]
        low, high = rate // 400, rate // 70
        found.append(rate / (low + int(np.argmax(corr[low:high]))))
    return float(np.median(found))


async def test_an_engine_without_rate_control_is_time_stretched_at_its_own_pitch(tts_stub):
    """Pico's own speed tag shortens the words but not the pauses (1.27x in all at 1.5x)."""
    text = SENTENCES["es"]
    normal = await speak(tts_stub, text, "es", voice="pico:es-ES")
    fast = await speak(tts_stub, text, "es", voice="pico:es-ES", speaking_rate=1.5)
    ratio = normal.seconds / fast.seconds
    assert 1.42 <= ratio <= 1.58, f"1.5x asked, {ratio:.2f}x spoken"
    before, after = pitch_hz(normal.samples, normal.rate), pitch_hz(fast.samples, fast.rate)
    assert abs(after / before - 1) < 0.08, f"pitch {before:.0f} Hz became {after:.0f} Hz"


def longest_pause_ms(spoken) -> float:
    """The longest run of 10 ms windows under -40 dBFS between the first and last sound."""
    window = spoken.rate // 100
    frames = spoken.samples[: spoken.samples.size // window * window].reshape(-1, window)
    loud = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1)) > 0.01
    sounds = np.flatnonzero(loud)
    longest = run = 0
    for is_loud in loud[sounds[0] : sounds[-1] + 1]:
        run = 0 if is_loud else run + 1
        longest = max(longest, run)
    return longest * 10.0


@pytest.mark.parametrize(
    ("language", "voice"), [("es", "pico:es-ES"), ("en", "espeak-ng:en"), ("de", "pico:de-DE")]
)
async def test_trimmed_speech_keeps_its_words_and_loses_the_padding(tts_stub, language, voice):
    text = f"{SENTENCES[language]} {SENTENCES[language]}"
    padded = await speak(tts_stub, text, language, voice=voice)
    trimmed = await speak(tts_stub, text, language, voice=voice, trim_silence=True)
    (start, end), (t_start, t_end) = (voiced_span_ms(s.samples, s.rate) for s in (padded, trimmed))
    # 50 ms kept before the first sound and 150 ms after the last (sounds fade in and out
    # below the -40 dBFS the span is measured at: up to 50 and 100 ms more).
    assert t_start <= 100 and trimmed.seconds * 1000 - t_end <= 250
    assert longest_pause_ms(trimmed) >= 0.8 * longest_pause_ms(padded) >= 200, "pause kept"
    padding = start + padded.seconds * 1000 - end
    assert t_start + trimmed.seconds * 1000 - t_end <= padding - 100


async def test_long_text_streams_sentence_by_sentence(tts_stub):
    """20,000 characters (the default limit) stream to the end."""
    sentence = "This is sentence number {} of a very long text that goes on and on. "
    text, count = "", 0
    while len(text) + len(sentence) + 6 <= 20_000:
        text += sentence.format(count)
        count += 1
    text += "x" * (20_000 - len(text))
    request = tts_pb2.StreamingSynthesizeRequest(
        text=text,
        voice=tts_pb2.VoiceSelection(voice="espeak-ng:en+f3"),
        audio_format=audio_pb2.AudioFormat(sample_rate_hz=8_000),
    )
    samples, last_index, replies = 0, -1, 0
    async for reply in tts_stub.StreamingSynthesize(request, timeout=120):
        assert reply.sentence_index >= last_index
        last_index = reply.sentence_index
        samples += len(reply.audio) // 2
        replies += 1
    assert last_index >= count, "every sentence (and the cut tail) is spoken"
    seconds = samples / 8_000
    low, high = plausible_seconds(text.replace("x", ""))
    assert low <= seconds <= high
    assert replies >= seconds * 8, "pieces of at most 100 ms"


async def test_concurrent_streams_each_get_their_own_audio(tts_stub):
    texts = [("es", SENTENCES["es"]), ("es", "Buenas noches a todos."), ("fr", SENTENCES["fr"])]
    alone = [await speak(tts_stub, text, lang) for lang, text in texts]
    together = await asyncio.gather(*(speak(tts_stub, text, lang) for lang, text in texts))
    for one, other in zip(alone, together, strict=True):
        assert one.voice.name == other.voice.name
        # Pico's unvoiced sounds are noise: where a first clause's sound ends (and its trailing
        # silence is cut) moves by a few milliseconds from one synthesis to the next.
        assert abs(other.samples.shape[0] - one.samples.shape[0]) <= 0.02 * one.rate
        assert rms(other.samples) > 0.02


async def test_a_cancelled_stream_leaves_the_voice_usable(tts_stub):
    request = tts_pb2.StreamingSynthesizeRequest(
        text=" ".join([SENTENCES["it"]] * 20), voice=tts_pb2.VoiceSelection(language="it")
    )
    call = tts_stub.StreamingSynthesize(request)
    first = await call.read()
    assert first.audio
    call.cancel()
    again = await speak(tts_stub, "Ciao a tutti.", "it")
    assert again.voice.name == "pico:it-IT" and rms(again.samples) > 0.02
