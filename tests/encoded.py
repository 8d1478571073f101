"""Speech encoded as clients send it (Opus in Ogg or WebM, raw Opus packets, FLAC, G.711), with
PyAV's encoders, for the tests of the decoders. Opus is encoded as WebRTC and phones do, for
speech (libopus's ``voip`` application)."""

from __future__ import annotations

import io

import av
import numpy as np

from parley.audio import resample

CONTAINER = {"ogg_opus": ("ogg", "libopus"), "webm_opus": ("webm", "libopus"),
             "flac": ("flac", "flac")}  # fmt: skip
RAW = {"mulaw": "pcm_mulaw", "alaw": "pcm_alaw"}
SPEECH = {"application": "voip"}


def _frame(samples: np.ndarray, rate: int) -> av.AudioFrame:
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)[None, :]
    frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
    frame.sample_rate = rate
    return frame


def encode(samples: np.ndarray, encoding: str, rate: int = 16_000, bitrate: int = 24_000):
    """``samples`` (mono float32 at ``rate``) as ``encoding``: bytes, or for ``opus`` a list
    of packets (one per AudioChunk)."""
    if encoding in RAW:
        narrow = resample(samples, rate, 8_000)
        codec = av.CodecContext.create(RAW[encoding], "w")
        codec.sample_rate, codec.layout, codec.format = 8_000, "mono", "s16"
        return b"".join(bytes(p) for p in [*codec.encode(_frame(narrow, 8_000)),
                                           *codec.encode(None)])  # fmt: skip
    if encoding == "opus":
        codec = av.CodecContext.create("libopus", "w")
        codec.sample_rate, codec.layout, codec.format = 48_000, "mono", "s16"
        codec.bit_rate = bitrate
        codec.options = dict(SPEECH)
        wide = resample(samples, rate, 48_000)
        packets = []
        for start in range(0, wide.shape[0], 960):  # 20 ms frames
            piece = wide[start : start + 960]
            piece = np.pad(piece, (0, 960 - piece.shape[0]))
            packets += [bytes(p) for p in codec.encode(_frame(piece, 48_000))]
        packets += [bytes(p) for p in codec.encode(None)]
        return packets
    container, codec_name = CONTAINER[encoding]
    out_rate = 48_000 if codec_name == "libopus" else rate
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as output:
        options = SPEECH if codec_name == "libopus" else {}
        stream = output.add_stream(codec_name, rate=out_rate, options=options)
        stream.layout = "mono"
        if codec_name == "libopus":
            stream.bit_rate = bitrate
        resampler = av.AudioResampler(
            format=stream.codec_context.format.name, layout="mono", rate=out_rate
        )
        for frame in resampler.resample(_frame(samples, rate)):
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return buffer.getvalue()


def ogg_opus_speech(data: bytes) -> np.ndarray:
    """An Ogg Opus stream (one utterance as the server sends it) as 16 kHz mono float32, decoded
    by the server's own decoder."""
    from parley.codecs import CompressedDecoder

    decoder = CompressedDecoder("ogg_opus", 48_000, 1, 16_000)
    return np.concatenate([decoder.feed(data), decoder.flush()])
