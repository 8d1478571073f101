"""Compressed audio in: Opus (in Ogg or WebM, or raw packets), FLAC, G.711 mu-law and A-law.

Decoded by FFmpeg's decoders through PyAV (already installed with faster-whisper, which reads
files with it), never by hand. Every decoder takes the stream's bytes in chunks of any size, as
clients send them, and gives mono float32 at the rate asked for (PyAV's resampler mixes
channels down and converts the rate).

- Containers (Ogg, WebM, FLAC) are read by FFmpeg's demuxers in a worker thread of the decoder
  that blocks for the next bytes: a page or cluster split between two chunks is joined again.
- Raw codecs (mu-law, A-law, Opus packets) decode each chunk as it comes; a raw Opus stream
  carries exactly one packet per chunk (it has no framing of its own).

Bounds: a container's declared rate and channels are checked before its audio is decoded, and
bytes waiting for the worker are capped, so no stream can make a decoder hold more than that.
"""

from __future__ import annotations

import io
import threading
from collections import deque
from collections.abc import Callable

import av
import numpy as np

from parley.errors import InvalidInput, LimitExceeded

OGG_OPUS, WEBM_OPUS, OPUS = "ogg_opus", "webm_opus", "opus"
FLAC, MULAW, ALAW = "flac", "mulaw", "alaw"
CONTAINERS = {OGG_OPUS: "ogg", WEBM_OPUS: "webm", FLAC: "flac"}
RAW = {MULAW: "pcm_mulaw", ALAW: "pcm_alaw", OPUS: "opus"}
COMPRESSED = (*CONTAINERS, *RAW)
OPUS_RATE = 48_000  # Opus decodes at 48 kHz whatever it was recorded at
MAX_WAITING_BYTES = 4 << 20  # compressed bytes the worker has not read yet
MAX_RATE, MAX_CHANNELS = 192_000, 8
MAX_HELD_S = 60.0  # decoded audio not yet taken: a few compressed bytes can hold hours of it


class _Pipe:
    """Bytes from the stream to the demuxer's thread: ``read`` blocks until some arrive."""

    def __init__(self) -> None:
        self._chunks: deque[bytes] = deque()
        self._waiting = 0
        self._closed = False
        self._ready = threading.Condition()

    def put(self, data: bytes) -> None:
        with self._ready:
            if self._waiting + len(data) > MAX_WAITING_BYTES:
                raise LimitExceeded(
                    f"over {MAX_WAITING_BYTES >> 20} MiB of compressed audio waiting to be "
                    "decoded: send it no faster than it plays"
                )
            self._chunks.append(data)
            self._waiting += len(data)
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify()

    def read(self, size: int = -1) -> bytes:
        with self._ready:
            self._ready.wait_for(lambda: self._chunks or self._closed)
            if not self._chunks:
                return b""  # the end of the stream
            data = self._chunks.popleft()
            if 0 <= size < len(data):
                data, rest = data[:size], data[size:]
                self._chunks.appendleft(rest)
            self._waiting -= len(data)
            return data

    def seekable(self) -> bool:
        return False


class CompressedDecoder:
    """Decodes one stream of ``encoding`` bytes to mono float32 at ``output_rate``.

    Args:
        encoding: one of :data:`COMPRESSED`.
        sample_rate: the rate of a raw codec's audio (containers say their own).
        channels: the channels of a raw codec's audio.
        output_rate: the rate of the samples given back.
        on_output: called (from the worker thread) when a container's worker has decoded more
            audio, which :meth:`take` then gives; without it, the next :meth:`feed` does.
        max_seconds: the most audio the whole stream may decode to (0: no limit); a whole clip
            taken at once may hold that much.
    """

    def __init__(
        self,
        encoding: str,
        sample_rate: int,
        channels: int,
        output_rate: int,
        max_seconds: float = 0.0,
        on_output: Callable[[], None] | None = None,
    ) -> None:
        self.encoding = encoding
        self._on_output = on_output
        self.output_rate = output_rate
        self._max_total = int(max_seconds * output_rate)
        self._max_held = max(int(MAX_HELD_S * output_rate), self._max_total)
        self._total = self._held = 0
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=output_rate)
        self._out: deque[np.ndarray] = deque()
        self._lock = threading.Lock()
        self._error: Exception | None = None
        self._pipe: _Pipe | None = None
        self._worker: threading.Thread | None = None
        self._codec = None
        if encoding in CONTAINERS:
            self._pipe = _Pipe()
            self._worker = threading.Thread(
                target=self._demux, name=f"decode {encoding}", daemon=True
            )
            self._worker.start()
        else:
            self._codec = av.CodecContext.create(RAW[encoding], "r")
            self._codec.sample_rate = OPUS_RATE if encoding == OPUS else sample_rate
            self._codec.layout = "stereo" if channels == 2 else "mono"

    def feed(self, data: bytes) -> np.ndarray:
        """Takes the next bytes; returns the audio decoded so far and not yet returned.

        Raises:
            InvalidInput: if the bytes are not audio of this encoding.
            LimitExceeded: if more compressed audio waits than the decoder holds.
        """
        if self._pipe is not None:
            self._pipe.put(data)
        elif data:
            self._decode_packet(data)
        return self._take()

    def flush(self) -> np.ndarray:
        """Ends the stream: the rest of the audio (the worker is finished after this)."""
        if self._pipe is not None:
            self._pipe.close()
            self._worker.join()
        elif self._codec is not None:
            self._emit(self._codec.decode(None))
        self._emit_resampled(self._resampler.resample(None))
        return self._take()

    def take(self) -> np.ndarray:
        """The audio decoded and not yet returned (raises the worker's error, if it had one)."""
        return self._take()

    def close(self) -> None:
        """Stops the worker without waiting for the rest (a cancelled stream)."""
        if self._pipe is not None:
            self._pipe.close()

    def _decode_packet(self, data: bytes) -> None:
        try:
            self._emit(self._codec.decode(av.Packet(data)))
        except av.error.FFmpegError as exc:
            raise InvalidInput(f"not {_NAMES[self.encoding]} audio ({_reason(exc)})") from None

    def _demux(self) -> None:
        """The worker: reads the container as its bytes come, until the stream ends."""
        try:
            with av.open(self._pipe, mode="r", format=CONTAINERS[self.encoding]) as container:
                if not container.streams.audio:
                    raise InvalidInput(f"the {_NAMES[self.encoding]} stream holds no audio")
                stream = container.streams.audio[0]
                _check_header(
                    _NAMES[self.encoding],
                    stream.codec_context.sample_rate,
                    stream.codec_context.channels,
                )
                for frame in container.decode(stream):
                    self._emit([frame])
                    if self._on_output is not None:
                        self._on_output()
        except (InvalidInput, LimitExceeded) as exc:
            self._fail(exc)
        except (av.error.FFmpegError, ValueError) as exc:
            self._fail(InvalidInput(f"not {_NAMES[self.encoding]} audio ({_reason(exc)})"))
        finally:
            if self._pipe is not None:
                self._pipe.close()

    def _fail(self, exc: Exception) -> None:
        with self._lock:
            self._error = exc
        self._pipe.close()
        if self._on_output is not None:
            self._on_output()  # the taker learns of the error

    def _emit(self, frames) -> None:
        for frame in frames:
            frame.pts = None  # the resampler times its output itself
            self._emit_resampled(self._resampler.resample(frame))

    def _emit_resampled(self, frames) -> None:
        for frame in frames:
            samples = frame.to_ndarray()[0].astype(np.float32, copy=False)
            with self._lock:
                self._total += samples.shape[0]
                self._held += samples.shape[0]
                self._out.append(samples)
                total, held = self._total, self._held
            if self._max_total and total > self._max_total:
                raise LimitExceeded(
                    f"the audio lasts over {self._max_total / self.output_rate:,.0f} s; "
                    "that is the limit per request"
                )
            if held > self._max_held:
                raise LimitExceeded(
                    f"the compressed audio decodes to over {MAX_HELD_S:.0f} s at once: "
                    "send it in smaller chunks"
                )

    def _take(self) -> np.ndarray:
        with self._lock:
            if self._error is not None:
                raise self._error
            parts = list(self._out)
            self._out.clear()
            self._held = 0
        if not parts:
            return np.zeros(0, np.float32)
        return np.clip(np.concatenate(parts), -1.0, 1.0)


_NAMES = {OGG_OPUS: "Ogg Opus", WEBM_OPUS: "WebM Opus", OPUS: "Opus", FLAC: "FLAC",
          MULAW: "mu-law", ALAW: "A-law"}  # fmt: skip


def _check_header(name: str, rate: int, channels: int) -> None:
    if not 0 < rate <= MAX_RATE:
        raise InvalidInput(
            f"unusable {name} audio: its header declares {rate} Hz (1-{MAX_RATE} are accepted)"
        )
    if not 0 < channels <= MAX_CHANNELS:
        raise InvalidInput(
            f"unusable {name} audio: its header declares {channels} channels "
            f"(1-{MAX_CHANNELS} are accepted)"
        )


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


OPUS_FRAME = 960  # 20 ms at 48 kHz, the frame every Opus packet here holds
OGG_PAGE_US = 100_000  # an Ogg page every 100 ms of audio: little framing, little delay
MIN_BITRATE, MAX_BITRATE, DEFAULT_BITRATE = 6_000, 256_000, 24_000
# libopus at complexity 5 costs half what its default 10 does (0.9% of one core per second of
# speech, measured) for speech that sounds alike; constrained VBR keeps the bytes at the bitrate.
OPUS_OPTIONS = {"compression_level": "5", "vbr": "constrained"}


class OpusEncoder:
    """Mono float32 at 48 kHz in, Opus out (FFmpeg's libopus through PyAV): raw packets, one
    per 20 ms frame, or an Ogg stream (RFC 7845) whose pages leave as they are completed.

    Args:
        bitrate: the target bitrate, bit/s.
        ogg: Ogg pages rather than raw packets.
    """

    def __init__(self, bitrate: int, ogg: bool) -> None:
        self._pending = np.zeros(0, np.float32)
        self._pts = 0
        self._buffer = None
        if ogg:
            self._buffer = io.BytesIO()
            self._output = av.open(
                self._buffer, "w", format="ogg", options={"page_duration": str(OGG_PAGE_US)}
            )
            stream = self._output.add_stream("libopus", rate=OPUS_RATE, options=OPUS_OPTIONS)
            stream.layout, stream.bit_rate = "mono", bitrate
            self._codec = stream
        else:
            self._codec = av.CodecContext.create("libopus", "w")
            self._codec.sample_rate, self._codec.layout = OPUS_RATE, "mono"
            self._codec.format, self._codec.bit_rate = "s16", bitrate
            self._codec.options = dict(OPUS_OPTIONS)

    def encode(self, samples: np.ndarray) -> list[bytes]:
        """Takes the next samples; returns what is ready: packets, or Ogg bytes (one item)."""
        self._pending = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        whole = self._pending.shape[0] - self._pending.shape[0] % OPUS_FRAME
        frames, self._pending = self._pending[:whole], self._pending[whole:]
        packets = []
        for start in range(0, whole, OPUS_FRAME):
            packets += self._codec.encode(self._frame(frames[start : start + OPUS_FRAME]))
        return self._out(packets)

    def flush(self) -> list[bytes]:
        """The rest (the last frame padded with silence); the stream ends here."""
        packets = []
        if self._pending.shape[0]:
            last = np.pad(self._pending, (0, OPUS_FRAME - self._pending.shape[0]))
            packets += self._codec.encode(self._frame(last))
            self._pending = np.zeros(0, np.float32)
        packets += self._codec.encode(None)
        out = self._out(packets)
        if self._buffer is not None:
            self._output.close()  # the last page
            out.append(self._drained())
        return [item for item in out if item]

    def _frame(self, samples: np.ndarray) -> av.AudioFrame:
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).round().astype(np.int16)[None, :]
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate, frame.pts = OPUS_RATE, self._pts
        self._pts += samples.shape[0]
        return frame

    def _out(self, packets) -> list[bytes]:
        if self._buffer is None:
            return [bytes(packet) for packet in packets]
        for packet in packets:
            self._output.mux(packet)
        data = self._drained()
        return [data] if data else []

    def _drained(self) -> bytes:
        """The Ogg bytes written since the last call (the buffer is emptied)."""
        data = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return data
