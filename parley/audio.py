"""Audio conversion shared by the services: decoding, mixing down, resampling, encoding.

Everything inside Parley is mono float32 in [-1, 1]. Raw PCM arrives in chunks of any size
(:class:`PcmDecoder` joins samples split between chunks); rates are converted with soxr
(:class:`StreamResampler` for streams, :func:`resample` for clips); WAV goes through soundfile;
Opus, FLAC, mu-law and A-law through FFmpeg's decoders (:mod:`parley.codecs`, which
:func:`decoder_for` picks).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import soundfile
import soxr

from parley import codecs
from parley.errors import InvalidInput, LimitExceeded

LINEAR16 = "linear16"
FLOAT32 = "float32"
WAV = "wav"
ENCODINGS = (LINEAR16, FLOAT32, WAV, *codecs.COMPRESSED)
OUTPUT_ENCODINGS = (LINEAR16, FLOAT32, WAV, codecs.OGG_OPUS, codecs.OPUS)
OPUS_OUTPUT = (codecs.OGG_OPUS, codecs.OPUS)
SELF_DESCRIBING = (WAV, *codecs.CONTAINERS)  # their header says the rate and channels
MIN_RATE, MAX_RATE = 8_000, 192_000
MAX_CHANNELS = 8
_SAMPLE_BYTES = {LINEAR16: 2, FLOAT32: 4}


@dataclass(frozen=True)
class AudioFormat:
    """Encoding, rate and channel count of audio bytes.

    Attributes:
        encoding: ``linear16`` (s16le), ``float32`` (f32le), ``wav`` (a whole file) or one of
            :data:`parley.codecs.COMPRESSED`.
        sample_rate: samples per second per channel.
        channels: interleaved channels.
        bitrate: Opus output's target bitrate, bit/s (0: the default).
    """

    encoding: str = LINEAR16
    sample_rate: int = 16_000
    channels: int = 1
    bitrate: int = 0

    def validate(self, *, streaming: bool, output: bool = False) -> AudioFormat:
        """Returns self if the format is usable (as output with ``output``), else raises
        :class:`InvalidInput`."""
        if self.encoding not in ENCODINGS:
            raise InvalidInput(f"unsupported audio encoding {self.encoding!r}")
        if output and self.encoding not in OUTPUT_ENCODINGS:
            raise InvalidInput(
                f"{self.encoding} is an input encoding only: ask for LINEAR16, FLOAT32, OGG_OPUS, "
                "OPUS (streams) or WAV (whole clips)"
            )
        if output and self.encoding == codecs.OPUS and not streaming:
            raise InvalidInput("raw Opus packets need a stream: ask for OGG_OPUS or stream it")
        if self.bitrate and not codecs.MIN_BITRATE <= self.bitrate <= codecs.MAX_BITRATE:
            raise InvalidInput(
                f"bitrate {self.bitrate} bit/s is outside {codecs.MIN_BITRATE}-{codecs.MAX_BITRATE}"
            )
        if streaming and self.encoding == WAV:
            raise InvalidInput("WAV is a file format: stream LINEAR16 or FLOAT32 instead")
        if self.encoding in SELF_DESCRIBING or (output and self.encoding in OPUS_OUTPUT):
            return self
        if not MIN_RATE <= self.sample_rate <= MAX_RATE:
            raise InvalidInput(
                f"sample rate {self.sample_rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz"
            )
        if not 1 <= self.channels <= MAX_CHANNELS:
            raise InvalidInput(f"{self.channels} channels: 1 to {MAX_CHANNELS} are accepted")
        if self.encoding == codecs.OPUS and self.channels > 2:
            raise InvalidInput("raw Opus carries 1 or 2 channels; send Ogg Opus for more")
        return self

    @property
    def compressed(self) -> bool:
        return self.encoding in codecs.COMPRESSED

    def opus_encoder(self) -> codecs.OpusEncoder:
        """A fresh encoder for Opus output in this format (48 kHz samples in)."""
        return codecs.OpusEncoder(
            self.bitrate or codecs.DEFAULT_BITRATE, ogg=self.encoding == codecs.OGG_OPUS
        )

    @property
    def bytes_per_second(self) -> float:
        """Bytes of one second of audio: exact for PCM and G.711; for Opus and FLAC the most a
        speech stream takes (128 kbit/s Opus; FLAC of 48 kHz stereo 16-bit), so pacing by it
        never holds back a real stream."""
        if self.encoding in (codecs.MULAW, codecs.ALAW):
            return self.sample_rate * self.channels
        if self.encoding in (codecs.OPUS, codecs.OGG_OPUS, codecs.WEBM_OPUS):
            return 16_000
        if self.encoding == codecs.FLAC:
            return 192_000
        return self.sample_rate * self.frame_bytes

    @property
    def frame_bytes(self) -> int:
        """Bytes of one sample across all channels (raw encodings only)."""
        return _SAMPLE_BYTES[self.encoding] * self.channels


def _to_float(raw: bytes, fmt: AudioFormat) -> np.ndarray:
    if fmt.encoding == LINEAR16:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    else:
        samples = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0).clip(-1.0, 1.0)
    if fmt.channels > 1:
        samples = samples.reshape(-1, fmt.channels).mean(axis=1, dtype=np.float32)
    return samples


class PcmDecoder:
    """Turns raw PCM chunks of any size into mono float32, joining split samples."""

    def __init__(self, fmt: AudioFormat) -> None:
        self.format = fmt.validate(streaming=True)
        self.output_rate = fmt.sample_rate
        self._pending = b""

    def flush(self) -> np.ndarray:
        """The end of the stream: a partial sample left is dropped."""
        return np.zeros(0, np.float32)

    def close(self) -> None:
        """Nothing to stop (the same interface as :class:`parley.codecs.CompressedDecoder`)."""

    def feed(self, data: bytes) -> np.ndarray:
        """Decodes ``data``; bytes of an incomplete sample wait for the next chunk."""
        data = self._pending + data
        usable = len(data) - len(data) % self.format.frame_bytes
        self._pending = data[usable:]
        return _to_float(data[:usable], self.format)

    @property
    def pending_bytes(self) -> int:
        """Bytes of an incomplete sample still waiting (dropped if the stream ends here)."""
        return len(self._pending)


def decoder_for(
    fmt: AudioFormat, rate: int, on_output: Callable[[], None] | None = None
) -> PcmDecoder | codecs.CompressedDecoder:
    """A stream decoder for ``fmt``; compressed audio comes out at ``rate`` (PCM at its own,
    see ``output_rate``). ``on_output`` is called (from the decoding thread) whenever a
    container's decoder has audio ready between two feeds."""
    fmt.validate(streaming=True)
    if fmt.compressed:
        return codecs.CompressedDecoder(
            fmt.encoding, fmt.sample_rate, fmt.channels, rate, on_output=on_output
        )
    return PcmDecoder(fmt)


class StreamResampler:
    """Converts a mono float32 stream from one rate to another, chunk by chunk."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate, self.out_rate = in_rate, out_rate
        self._stream = (
            None if in_rate == out_rate else soxr.ResampleStream(in_rate, out_rate, 1, "float32")
        )

    def process(self, samples: np.ndarray, last: bool = False) -> np.ndarray:
        """Resamples the next chunk; ``last`` flushes what the filter holds back."""
        if self._stream is None:
            return samples
        return self._stream.resample_chunk(samples, last=last)


def resample(samples: np.ndarray, in_rate: int, out_rate: int) -> np.ndarray:
    """Resamples a whole mono clip."""
    if in_rate == out_rate or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    return soxr.resample(samples, in_rate, out_rate).astype(np.float32, copy=False)


def decode_clip(data: bytes, fmt: AudioFormat, max_seconds: float = 0.0) -> tuple[np.ndarray, int]:
    """Decodes a whole clip to (mono float32 samples, sample rate).

    A WAV file's header is checked before its samples are read: a rate outside
    MIN_RATE-MAX_RATE, more than MAX_CHANNELS channels, or more than ``max_seconds`` of audio
    (0: no limit) is refused, whatever the bytes hold, so no header can make the decoding or
    the resampling after it allocate more than that much audio.

    Raises:
        InvalidInput: for an unusable format, a broken WAV file or a partial sample.
        LimitExceeded: for a clip longer than ``max_seconds``.
    """
    fmt.validate(streaming=False)
    if fmt.compressed and not data:
        return np.zeros(0, np.float32), 16_000
    if fmt.compressed:
        decoder = codecs.CompressedDecoder(
            fmt.encoding, fmt.sample_rate, fmt.channels, 16_000, max_seconds
        )
        try:
            samples = np.concatenate([decoder.feed(data), decoder.flush()])
        finally:
            decoder.close()
        return samples, decoder.output_rate
    if fmt.encoding == WAV:
        try:
            info = soundfile.info(io.BytesIO(data))
        except (soundfile.LibsndfileError, RuntimeError, ValueError) as exc:
            raise InvalidInput(f"not a readable WAV file ({_reason(exc)})") from None
        header = AudioFormat(LINEAR16, int(info.samplerate), int(info.channels))
        try:
            header.validate(streaming=True)
        except InvalidInput as exc:
            raise InvalidInput(f"WAV header: {exc}") from None
        _check_length(info.frames / info.samplerate, max_seconds)
        try:
            samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
        except (soundfile.LibsndfileError, RuntimeError, ValueError) as exc:
            raise InvalidInput(f"not a readable WAV file ({_reason(exc)})") from None
        return samples.mean(axis=1, dtype=np.float32), int(rate)
    if len(data) % fmt.frame_bytes:
        raise InvalidInput(
            f"{len(data)} bytes is not a whole number of {fmt.encoding} samples "
            f"({fmt.frame_bytes} bytes per sample over {fmt.channels} channel(s))"
        )
    _check_length(len(data) / fmt.frame_bytes / fmt.sample_rate, max_seconds)
    return _to_float(data, fmt), fmt.sample_rate


def _check_length(seconds: float, max_seconds: float) -> None:
    if max_seconds and seconds > max_seconds:
        raise LimitExceeded(
            f"the audio lasts {seconds:,.0f} s; the limit is {max_seconds:,.0f} s per request"
        )


def _reason(exc: Exception) -> str:
    """What libsndfile says is wrong, without Python's object names."""
    reason = getattr(exc, "error_string", "") or str(exc)
    return re.sub(r"<[^>]*>", "the data", reason).strip().rstrip(".") or "unknown format"


def encode(samples: np.ndarray, fmt: AudioFormat) -> bytes:
    """Encodes mono float32 samples (already at ``fmt.sample_rate``) as ``fmt.encoding``."""
    samples = np.clip(samples, -1.0, 1.0)
    if fmt.encoding == LINEAR16:
        return (samples * 32767.0).round().astype("<i2").tobytes()
    if fmt.encoding == FLOAT32:
        return samples.astype("<f4").tobytes()
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, fmt.sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def duration_s(samples: np.ndarray, rate: int) -> float:
    """Length of a mono clip in seconds."""
    return samples.shape[0] / rate
