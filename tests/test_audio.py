"""Shared audio conversion: split samples, mixing down, resampling, WAV, bad formats."""

from __future__ import annotations

import numpy as np
import pytest

from parley import audio
from parley.errors import InvalidInput


def tone(freq: float, seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_decoder_joins_samples_split_between_chunks():
    samples = tone(440, 0.1, 16_000)
    raw = audio.encode(samples, audio.AudioFormat())
    decoder = audio.PcmDecoder(audio.AudioFormat())
    parts = [decoder.feed(raw[i : i + 333]) for i in range(0, len(raw), 333)]
    joined = np.concatenate(parts)
    assert joined.shape == samples.shape
    assert np.max(np.abs(joined - samples)) < 1e-3
    assert decoder.pending_bytes == 0


def test_stereo_float32_is_mixed_down():
    left, right = tone(440, 0.05, 48_000), np.zeros(2400, dtype=np.float32)
    raw = np.stack([left, right], axis=1).astype("<f4").tobytes()
    decoded = audio.PcmDecoder(audio.AudioFormat(audio.FLOAT32, 48_000, 2)).feed(raw)
    assert np.allclose(decoded, left / 2, atol=1e-6)


def test_stream_resampling_keeps_duration_and_pitch():
    rate_in, rate_out = 44_100, 16_000
    samples = tone(440, 1.0, rate_in)
    resampler = audio.StreamResampler(rate_in, rate_out)
    chunks = [resampler.process(samples[i : i + 4410]) for i in range(0, samples.size, 4410)]
    out = np.concatenate([*chunks, resampler.process(np.zeros(0, np.float32), last=True)])
    assert abs(out.size - rate_out) <= 2
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * rate_out / out.size - 440) < 3


def test_wav_round_trip():
    samples = tone(300, 0.25, 22_050)
    data = audio.encode(samples, audio.AudioFormat(audio.WAV, 22_050))
    assert data[:4] == b"RIFF"
    decoded, rate = audio.decode_clip(data, audio.AudioFormat(audio.WAV))
    assert rate == 22_050 and np.max(np.abs(decoded - samples)) < 1e-3


@pytest.mark.parametrize(
    ("fmt", "streaming", "message"),
    [
        (audio.AudioFormat(sample_rate=1), True, "outside 8000-192000 Hz"),
        (audio.AudioFormat(sample_rate=10_000_000), True, "outside"),
        (audio.AudioFormat(channels=99), True, "1 to 8 are accepted"),
        (audio.AudioFormat(audio.WAV), True, "stream LINEAR16 or FLOAT32"),
        (audio.AudioFormat("mp3"), False, "unsupported audio encoding"),
        (audio.AudioFormat("opus", channels=3), True, "1 or 2 channels"),
        (audio.AudioFormat("mulaw", sample_rate=4000), True, "outside 8000-192000 Hz"),
    ],
)
def test_unusable_formats_are_rejected(fmt, streaming, message):
    with pytest.raises(InvalidInput, match=message):
        fmt.validate(streaming=streaming)


@pytest.mark.parametrize("encoding", ["webm_opus", "flac", "mulaw", "alaw"])
def test_these_compressed_encodings_are_input_only(encoding):
    fmt = audio.AudioFormat(encoding)
    assert fmt.validate(streaming=True) is fmt
    with pytest.raises(InvalidInput, match="input encoding only"):
        fmt.validate(streaming=True, output=True)


def test_opus_output_takes_a_bounded_bitrate_and_raw_packets_only_streamed():
    assert audio.AudioFormat("ogg_opus", 48_000, bitrate=24_000).validate(
        streaming=False, output=True
    )
    with pytest.raises(InvalidInput, match="need a stream"):
        audio.AudioFormat("opus").validate(streaming=False, output=True)
    with pytest.raises(InvalidInput, match="bitrate 1000000 bit/s is outside 6000-256000"):
        audio.AudioFormat("ogg_opus", bitrate=1_000_000).validate(streaming=True, output=True)


def test_odd_byte_count_clip_and_garbage_wav_are_rejected():
    with pytest.raises(InvalidInput, match="not a whole number"):
        audio.decode_clip(b"\x00\x01\x02", audio.AudioFormat())
    with pytest.raises(InvalidInput, match="not a readable WAV"):
        audio.decode_clip(b"RIFF garbage", audio.AudioFormat(audio.WAV))
