"""Streaming and unary recognition of real speech with Whisper."""

from __future__ import annotations

import numpy as np
import pytest

from parley import audio
from parley.v1 import audio_pb2, stt_pb2
from tests.speech import silence, speak, voiced_span_ms, wer
from tests.stt.conftest import finals, recognize_stream

EN = "The weather is lovely today, so we will walk to the park."
EN2 = "Please send me the report before the meeting on Friday."
ES = "Buenos días, me gustaría reservar una mesa para cuatro personas."


@pytest.mark.parametrize(("text", "language"), [(EN, "en"), (ES, "es"), (EN2, "en")])
async def test_streamed_sentence_is_transcribed(stt_stub, text, language):
    samples = np.concatenate([silence(0.3), speak(text, language), silence(1.0)])
    config = stt_pb2.RecognitionConfig(language=language)
    results = finals(await recognize_stream(stt_stub, samples, config))
    assert len(results) == 1, results
    assert wer(text, results[0].text) <= 0.2, results[0].text
    assert results[0].language == language
    assert results[0].model == "whisper-base"


async def test_two_sentences_with_a_pause_are_two_results_with_offsets(stt_stub):
    first, second = speak(EN, "en"), speak(EN2, "en")
    samples = np.concatenate([silence(0.5), first, silence(1.5), second, silence(1.0)])
    config = stt_pb2.RecognitionConfig(language="en")
    results = finals(await recognize_stream(stt_stub, samples, config))
    assert [r.utterance_id for r in results] == ["u0", "u1"]
    assert wer(EN, results[0].text) <= 0.2 and wer(EN2, results[1].text) <= 0.2
    (begin0, stop0), (begin1, _) = voiced_span_ms(first), voiced_span_ms(second)
    second_at = 500 + len(first) / 16 + 1500
    start0 = results[0].start_offset.ToMilliseconds()
    end0 = results[0].end_offset.ToMilliseconds()
    start1 = results[1].start_offset.ToMilliseconds()
    # Offsets include up to 200 ms of padding around the speech.
    assert 500 + begin0 - 300 <= start0 <= 500 + begin0 + 100
    assert 500 + stop0 - 100 <= end0 <= 500 + stop0 + 400
    assert end0 < start1 and second_at + begin1 - 300 <= start1 <= second_at + begin1 + 100


async def test_spanish_language_is_detected(stt_stub):
    samples = np.concatenate([speak(ES, "es"), silence(1.0)])
    results = finals(await recognize_stream(stt_stub, samples, stt_pb2.RecognitionConfig()))
    assert len(results) == 1
    assert results[0].language == "es" and results[0].language_probability > 0.5
    assert wer(ES, results[0].text) <= 0.25


async def test_detection_restricted_to_candidates(stt_stub):
    samples = np.concatenate([speak(ES, "es"), silence(1.0)])
    config = stt_pb2.RecognitionConfig(candidate_languages=["fr", "es"])
    results = finals(await recognize_stream(stt_stub, samples, config))
    assert results[0].language == "es" and 0.5 < results[0].language_probability <= 1.0


async def test_any_input_rate_and_channels_are_resampled(stt_stub):
    mono = np.concatenate([speak(EN2, "en", rate=44_100), silence(1.0, 44_100)])
    stereo = np.stack([mono, mono * 0.5], axis=1).astype("<f4").tobytes()
    fmt = audio_pb2.AudioFormat(
        encoding=audio_pb2.AUDIO_ENCODING_FLOAT32, sample_rate_hz=44_100, channels=2
    )
    config = stt_pb2.RecognitionConfig(language="en", audio_format=fmt)
    results = finals(await recognize_stream(stt_stub, stereo, config, chunk_bytes=35_280))
    assert len(results) == 1 and wer(EN2, results[0].text) <= 0.2


async def test_chunks_with_odd_byte_counts_are_joined(stt_stub):
    samples = np.concatenate([speak(EN2, "en"), silence(1.0)])
    config = stt_pb2.RecognitionConfig(language="en")
    results = finals(await recognize_stream(stt_stub, samples, config, chunk_bytes=333))
    assert len(results) == 1 and wer(EN2, results[0].text) <= 0.2


async def test_interim_results_and_speech_events(stt_stub):
    samples = np.concatenate([silence(0.5), speak(EN, "en"), silence(1.0)])
    config = stt_pb2.RecognitionConfig(language="en", interim_results=True, speech_events=True)
    responses = await recognize_stream(stt_stub, samples, config)
    kinds = [r.WhichOneof("response") for r in responses]
    events = [r.speech_event for r in responses if r.HasField("speech_event")]
    assert [e.type for e in events] == [
        stt_pb2.SPEECH_EVENT_TYPE_SPEECH_STARTED,
        stt_pb2.SPEECH_EVENT_TYPE_SPEECH_ENDED,
    ]
    assert kinds[0] == "speech_event"
    results = [r.result for r in responses if r.HasField("result")]
    partials = [r for r in results if not r.is_final]
    assert partials, "no partial hypothesis for a 4 s sentence"
    assert results[-1].is_final and all(0.0 <= p.stability <= 1.0 for p in partials)
    assert {r.utterance_id for r in results} == {"u0"}
    ended = events[1].offset.ToMilliseconds()
    _, speech_end = voiced_span_ms(samples)
    assert abs(ended - speech_end) <= 300


async def test_word_timestamps(stt_stub):
    samples = np.concatenate([silence(0.5), speak(EN2, "en"), silence(1.0)])
    config = stt_pb2.RecognitionConfig(language="en", word_timestamps=True)
    (result,) = finals(await recognize_stream(stt_stub, samples, config))
    words = list(result.words)
    assert len(words) >= 8
    starts = [w.start_offset.ToMilliseconds() for w in words]
    assert starts == sorted(starts) and starts[0] >= 300
    assert words[-1].end_offset.ToMilliseconds() <= result.end_offset.ToMilliseconds() + 300
    assert words[0].word.lower().startswith("please")


async def test_translate_task_gives_english(stt_stub):
    samples = np.concatenate([speak(ES, "es"), silence(1.0)])
    config = stt_pb2.RecognitionConfig(
        language="es", task=stt_pb2.RECOGNITION_TASK_TRANSLATE_TO_ENGLISH
    )
    (result,) = finals(await recognize_stream(stt_stub, samples, config))
    words = set(result.text.lower().replace(",", " ").replace(".", " ").split())
    assert {"table", "four"} <= words or {"table", "people"} <= words, result.text


async def test_tiny_en_model(stt_stub):
    samples = np.concatenate([speak(EN, "en"), silence(1.0)])
    config = stt_pb2.RecognitionConfig(model="whisper-tiny.en")
    (result,) = finals(await recognize_stream(stt_stub, samples, config))
    assert result.model == "whisper-tiny.en" and result.language == "en"
    assert wer(EN, result.text) <= 0.25


async def test_silence_and_noise_give_no_result(stt_stub):
    rng = np.random.default_rng(7)
    noise = (rng.standard_normal(16_000 * 3) * 0.01).astype(np.float32)
    config = stt_pb2.RecognitionConfig(language="en")
    assert await recognize_stream(stt_stub, silence(5.0), config) == []
    assert finals(await recognize_stream(stt_stub, noise, config)) == []


async def test_recognize_whole_wav_clip(stt_stub):
    clip = np.concatenate([speak(EN, "en"), silence(1.2), speak(EN2, "en")])
    wav = audio.encode(clip, audio.AudioFormat(audio.WAV, 16_000))
    request = stt_pb2.RecognizeRequest(
        config=stt_pb2.RecognitionConfig(
            language="en",
            audio_format=audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_WAV),
        ),
        audio=wav,
    )
    response = await stt_stub.Recognize(request, timeout=60)
    assert len(response.results) == 2
    assert wer(f"{EN} {EN2}", " ".join(r.text for r in response.results)) <= 0.2
    assert abs(response.audio_duration.ToMilliseconds() - len(clip) / 16) <= 1


async def test_list_models(stt_stub):
    response = await stt_stub.ListModels(stt_pb2.ListModelsRequest())
    models = {m.name: m for m in response.models}
    assert response.default_model == "whisper-base"
    assert models["whisper-base"].multilingual and models["whisper-base"].loaded
    assert models["whisper-tiny.en"].languages == ["en"]
    assert {"en", "es", "de", "fr", "it", "pt", "zh"} <= set(models["whisper-base"].languages)
    assert not models["whisper-tiny.en"].supports_translation
