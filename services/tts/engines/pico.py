"""SVOX Pico through its C API (Debian non-free ``libttspico0`` and ``libttspico-data``).

Audio streams out as Pico makes it: ``pico_getData`` runs one processing step per call and hands
over at most a few milliseconds of 16 kHz 16-bit audio (a 50-character sentence takes about 900
calls before its first 50 ms of audio, 15,000 in all). Calling it from Python costs more than the
step itself and takes the GIL back after every call, so several syntheses at once queue on the GIL
(three at once on two cores: 35 ms to the first chunk instead of 10, 140 ms per sentence instead
of 45). So a small C loop (``services.tts.engines.pico_loop``), compiled once with the system's C
compiler and cached, calls it until a chunk is full: one GIL release per chunk. Without a
compiler the same loop runs in Python.

One Pico engine lives in its own Pico system (its own memory area), and only one thread uses it
at a time; instances are pooled per language, so concurrent requests each get their own.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from parley.errors import EngineUnavailable
from parley.logs import get_logger
from services.tts.engines.base import Engine, Gender, Quality, SynthesisOptions, Voice
from services.tts.engines.pico_loop import native_fill

log = get_logger(__name__)

LIBRARY = "libttspico.so.0"
SAMPLE_RATE = 16_000
_MEMORY_BYTES = 2_500_000  # what pico2wave and Android give one Pico system
_STEP_IDLE, _STEP_BUSY = 200, 201
_RESET_SOFT = 0x10
_READ_BYTES = 256  # per pico_getData call
_CHUNK_SAMPLES = 800  # 50 ms: the size of the chunks this engine yields
_MAX_PUT = 32_000  # pico_putTextUtf8 takes an int16 byte count
_IDLE_PER_LANGUAGE = 4
_VOICE_NAME = b"parley"
# Every voice SVOX shipped is female.
_DESCRIPTIONS = {
    "en-US": "SVOX Pico US English (female)",
    "en-GB": "SVOX Pico British English (female)",
    "de-DE": "SVOX Pico German (female)",
    "es-ES": "SVOX Pico Spanish (female)",
    "fr-FR": "SVOX Pico French (female)",
    "it-IT": "SVOX Pico Italian (female)",
}


def _load_library(name: str) -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise EngineUnavailable(
            f"SVOX Pico is not installed ({exc}): install the Debian non-free packages "
            "libttspico0 and libttspico-data"
        ) from exc
    handle, int16, out = ctypes.c_void_p, ctypes.c_int16, ctypes.POINTER
    lib.pico_initialize.argtypes = [ctypes.c_void_p, ctypes.c_uint32, out(handle)]
    lib.pico_terminate.argtypes = [out(handle)]
    lib.pico_loadResource.argtypes = [handle, ctypes.c_char_p, out(handle)]
    lib.pico_getResourceName.argtypes = [handle, handle, ctypes.c_char_p]
    lib.pico_createVoiceDefinition.argtypes = [handle, ctypes.c_char_p]
    lib.pico_addResourceToVoiceDefinition.argtypes = [handle, ctypes.c_char_p, ctypes.c_char_p]
    lib.pico_newEngine.argtypes = [handle, ctypes.c_char_p, out(handle)]
    lib.pico_disposeEngine.argtypes = [handle, out(handle)]
    lib.pico_resetEngine.argtypes = [handle, ctypes.c_int32]
    lib.pico_putTextUtf8.argtypes = [handle, ctypes.c_char_p, int16, out(int16)]
    lib.pico_getData.argtypes = [handle, ctypes.c_void_p, int16, out(int16), out(int16)]
    lib.pico_getSystemStatusMessage.argtypes = [handle, ctypes.c_int, ctypes.c_char_p]
    return lib


class _Instance:
    """One Pico system with one engine for one language. Used by one thread at a time."""

    def __init__(self, lib: ctypes.CDLL, ta_file: Path, sg_file: Path, fill=None) -> None:
        self._lib = lib
        self._fill = fill
        self._memory = ctypes.create_string_buffer(_MEMORY_BYTES)
        self._system = ctypes.c_void_p()
        self._engine = ctypes.c_void_p()
        self._check(lib.pico_initialize(self._memory, _MEMORY_BYTES, ctypes.byref(self._system)))
        try:
            for path in (ta_file, sg_file):
                resource = ctypes.c_void_p()
                self._check(
                    lib.pico_loadResource(self._system, bytes(path), ctypes.byref(resource))
                )
                name = ctypes.create_string_buffer(200)
                self._check(lib.pico_getResourceName(self._system, resource, name))
                if path == ta_file:
                    self._check(lib.pico_createVoiceDefinition(self._system, _VOICE_NAME))
                self._check(
                    lib.pico_addResourceToVoiceDefinition(self._system, _VOICE_NAME, name.value)
                )
            self._check(lib.pico_newEngine(self._system, _VOICE_NAME, ctypes.byref(self._engine)))
        except EngineUnavailable:
            self.close()
            raise

    def _check(self, status: int) -> None:
        if status < 0:
            self._fail(status)

    def _fail(self, status: int) -> None:
        message = ctypes.create_string_buffer(200)
        if self._system:
            self._lib.pico_getSystemStatusMessage(self._system, status, message)
        text = message.value.decode(errors="replace")
        raise EngineUnavailable(f"SVOX Pico failed (status {status}): {text}")

    def speak(self, text: bytes) -> Iterator[np.ndarray]:
        """Yields ~50 ms float32 chunks of ``text`` (UTF-8, NUL-terminated) as Pico makes them.

        If the caller stops early, the engine is reset so that it can be reused.
        """
        if self._fill is not None:
            yield from self._speak_native(text)
            return
        sent, received, kind = ctypes.c_int16(), ctypes.c_int16(), ctypes.c_int16()
        buffer = ctypes.create_string_buffer(_READ_BYTES)
        pending: list[bytes] = []
        pending_bytes, offset, finished = 0, 0, False
        try:
            while offset < len(text):
                piece = text[offset : offset + _MAX_PUT]
                self._check(
                    self._lib.pico_putTextUtf8(self._engine, piece, len(piece), ctypes.byref(sent))
                )
                offset += sent.value
                status = _STEP_BUSY
                while status == _STEP_BUSY:
                    status = self._lib.pico_getData(
                        self._engine,
                        buffer,
                        _READ_BYTES,
                        ctypes.byref(received),
                        ctypes.byref(kind),
                    )
                    if status not in (_STEP_BUSY, _STEP_IDLE):
                        self._fail(status)
                    if received.value:
                        pending.append(buffer.raw[: received.value])
                        pending_bytes += received.value
                    if pending_bytes >= 2 * _CHUNK_SAMPLES:
                        yield _to_float(b"".join(pending))
                        pending, pending_bytes = [], 0
            if pending_bytes:
                yield _to_float(b"".join(pending))
            finished = True
        finally:
            if not finished:
                self._lib.pico_resetEngine(self._engine, _RESET_SOFT)

    def _speak_native(self, text: bytes) -> Iterator[np.ndarray]:
        """:meth:`speak` with the loop in C: one call (and one GIL release) per chunk."""
        sent, got = ctypes.c_int16(), ctypes.c_int()
        want = 2 * _CHUNK_SAMPLES
        buffer = ctypes.create_string_buffer(want + _READ_BYTES)
        get_data = ctypes.cast(self._lib.pico_getData, ctypes.c_void_p)
        offset, finished = 0, False
        try:
            while offset < len(text):
                piece = text[offset : offset + _MAX_PUT]
                self._check(
                    self._lib.pico_putTextUtf8(self._engine, piece, len(piece), ctypes.byref(sent))
                )
                offset += sent.value
                status = _STEP_BUSY
                while status == _STEP_BUSY:
                    status = self._fill(
                        get_data,
                        self._engine,
                        buffer,
                        len(buffer),
                        want,
                        _READ_BYTES,
                        ctypes.byref(got),
                    )
                    if status not in (_STEP_BUSY, _STEP_IDLE):
                        self._fail(status)
                    if got.value:
                        yield _to_float(buffer.raw[: got.value])
            finished = True
        finally:
            if not finished:
                self._lib.pico_resetEngine(self._engine, _RESET_SOFT)

    def close(self) -> None:
        """Disposes the engine and terminates the system."""
        if self._engine:
            self._lib.pico_disposeEngine(self._system, ctypes.byref(self._engine))
        if self._system:
            self._lib.pico_terminate(ctypes.byref(self._system))


def _to_float(raw: bytes) -> np.ndarray:
    usable = len(raw) - len(raw) % 2
    return np.frombuffer(raw[:usable], dtype="<i2").astype(np.float32) / 32768.0


def _prepare(text: str, rate: float) -> bytes:
    # Pico reads <tags> as its own commands: markup in the text must stay text.
    text = text.replace("<", " ").replace(">", " ")
    if rate != 1.0:
        level = round(min(max(rate * 100, 20), 500))
        text = f'<speed level="{level}">{text}</speed>'
    return text.encode("utf-8") + b"\0"


class PicoEngine(Engine):
    """SVOX Pico: en-US, en-GB, de-DE, es-ES, fr-FR, it-IT at 16 kHz, first audio in a few ms."""

    name = "pico"
    # Its <speed> tag speeds up the words but not the pauses: a sentence asked for at 1.5x
    # has 1.46x shorter speech but is 1.27x shorter in all (1.3x: 1.14x), so a room catching up
    # hardly gained. Pico speaks at its own rate and the whole audio is time-stretched instead.
    honours_rate = False

    def __init__(
        self, lang_dir: str = "/usr/share/pico/lang", library: str = LIBRARY, native: bool = True
    ) -> None:
        """
        Args:
            lang_dir: folder of the lingware.
            library: the Pico shared library.
            native: run the synthesis loop in C when a C compiler can build it (see the
                module's doc); False keeps it in Python.
        """
        self._lang_dir = Path(lang_dir)
        self._library_name = library
        self._native = native
        self._fill = None
        self._lib: ctypes.CDLL | None = None
        self._files: dict[str, tuple[Path, Path]] = {}
        self._idle: dict[str, list[_Instance]] = {}
        self._lock = threading.Lock()

    def voices(self) -> list[Voice]:
        self._lib = _load_library(self._library_name)
        if self._native:
            self._fill = native_fill()
        files = {}
        for ta_file in sorted(self._lang_dir.glob("*_ta.bin")):
            language = ta_file.name.removesuffix("_ta.bin")
            sg_files = sorted(self._lang_dir.glob(f"{language}_*_sg.bin"))
            if sg_files:
                files[language] = (ta_file, sg_files[0])
        self._files = files
        if not files:
            raise EngineUnavailable(
                f"no SVOX Pico lingware in {self._lang_dir}: install libttspico-data"
            )
        order = sorted(files, key=lambda lang: (lang != "en-US", lang))
        return [
            Voice(
                engine=self.name,
                id=language,
                languages=(language,),
                sample_rate=SAMPLE_RATE,
                gender=Gender.FEMALE,
                quality=Quality.STANDARD,
                description=_DESCRIPTIONS.get(language, f"SVOX Pico {language}"),
            )
            for language in order
        ]

    def _acquire(self, language: str) -> _Instance:
        with self._lock:
            idle = self._idle.setdefault(language, [])
            if idle:
                return idle.pop()
        if self._lib is None or language not in self._files:
            raise EngineUnavailable(f"SVOX Pico has no voice {language}")
        return _Instance(self._lib, *self._files[language], fill=self._fill)

    def _release(self, language: str, instance: _Instance) -> None:
        with self._lock:
            idle = self._idle.setdefault(language, [])
            if len(idle) < _IDLE_PER_LANGUAGE:
                idle.append(instance)
                return
        instance.close()

    def warm_up(self, voice: Voice) -> None:
        self._release(voice.id, self._acquire(voice.id))

    def synthesize(
        self, text: str, voice: Voice, options: SynthesisOptions
    ) -> Iterator[np.ndarray]:
        instance = self._acquire(voice.id)
        healthy = False
        try:
            yield from instance.speak(_prepare(text, options.speaking_rate))
            healthy = True
        except GeneratorExit:
            healthy = True  # stopped early; speak() reset the engine
            raise
        finally:
            if healthy:
                self._release(voice.id, instance)
            else:
                instance.close()

    def close(self) -> None:
        with self._lock:
            instances = [i for idle in self._idle.values() for i in idle]
            self._idle.clear()
        for instance in instances:
            instance.close()
