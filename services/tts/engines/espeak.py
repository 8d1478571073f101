"""espeak-ng through its C API: 100+ languages, with voice variants.

The library comes from the PyPI package ``espeakng-loader`` (which bundles libespeak-ng and its
data), else from Debian's ``libespeak-ng1``. espeak-ng keeps global state, so one worker thread
owns it and runs every call; in synchronous mode it hands each buffer of audio to a callback
while it synthesises, and the callback passes it on to the request's queue: the first audio
arrives within a millisecond or two.

Piper carries its own static copy of espeak-ng (``piper.espeakbridge``) for phonemes; that
copy is private to its extension module, so the two do not share state.
"""

from __future__ import annotations

import ctypes
import queue
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from parley.errors import EngineUnavailable, InvalidInput
from services.tts.engines.base import (
    Engine,
    Gender,
    Quality,
    SynthesisOptions,
    Voice,
    normalize_language,
)

DEBIAN_LIBRARY = "libespeak-ng.so.1"
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_BUFFER_MS = 60
_POS_CHARACTER = 1
_CHARS_UTF8, _ENDPAUSE = 1, 0x1000
_RATE_PARAMETER, _NORMAL_WPM, _MIN_WPM, _MAX_WPM = 1, 175, 80, 450
# Variants (espeak-ng-data/voices/!v) offered for every voice, so that speakers in a room can
# be told apart: the plain voice, then female, male, female.
VARIANTS = (("", None), ("f3", Gender.FEMALE), ("m3", Gender.MALE), ("f1", Gender.FEMALE))
_GENDERS = {1: Gender.MALE, 2: Gender.FEMALE}
_END = object()


class _VoiceStruct(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


@dataclass
class _Job:
    """One sentence being synthesised: audio goes to ``chunks`` until ``_END``."""

    chunks: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    cancelled: bool = False


def _find_library() -> tuple[str, bytes | None]:
    """(library path, data folder or None for the library's default)."""
    try:
        import espeakng_loader
    except ImportError:
        return DEBIAN_LIBRARY, None
    return espeakng_loader.get_library_path(), espeakng_loader.get_data_path().encode()


def _languages(pointer: int) -> list[tuple[int, str]]:
    """Parses espeak's list of (priority byte, NUL-terminated language) pairs."""
    found = []
    while pointer:
        priority = ctypes.c_ubyte.from_address(pointer).value
        if priority == 0:
            break
        language = ctypes.string_at(pointer + 1)
        found.append((priority, language.decode(errors="replace")))
        pointer += len(language) + 2
    return found


class EspeakEngine(Engine):
    """espeak-ng: formant synthesis at 22,050 Hz, robotic but fast, in 100+ languages."""

    name = "espeak-ng"

    def __init__(self) -> None:
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="espeak-ng")
        self._lib: ctypes.CDLL | None = None
        self._sample_rate = 0
        self._job: _Job | None = None  # only touched on the worker thread
        self._callback = _CALLBACK(self._on_audio)  # kept alive as long as the engine

    def _initialize(self) -> ctypes.CDLL:
        """Loads and initialises the library once (on the worker thread)."""
        if self._lib is not None:
            return self._lib
        path, data = _find_library()
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            raise EngineUnavailable(
                f"espeak-ng is not installed ({exc}): pip install espeakng-loader, "
                "or apt-get install libespeak-ng1"
            ) from exc
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_VoiceStruct))
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, _BUFFER_MS, data, 0)
        if rate <= 0:
            raise EngineUnavailable(f"espeak-ng failed to initialise from {path}")
        lib.espeak_SetSynthCallback(self._callback)
        self._lib, self._sample_rate = lib, rate
        return lib

    def voices(self) -> list[Voice]:
        return self._worker.submit(self._list_voices).result()

    def _list_voices(self) -> list[Voice]:
        lib = self._initialize()
        listed = lib.espeak_ListVoices(None)
        found = []
        index = 0
        while listed[index]:
            entry = listed[index].contents
            languages = sorted(_languages(entry.languages or 0))
            if languages:
                identifier = entry.identifier.decode()
                found.append((languages[0][0], identifier, entry, languages))
            index += 1
        names = [identifier.rsplit("/", 1)[-1] for _, identifier, _, _ in found]
        voices = []
        for _, identifier, entry, languages in sorted(found, key=lambda f: (f[0], f[1])):
            short = identifier.rsplit("/", 1)[-1]
            base = short if names.count(short) == 1 else identifier
            tags = tuple(dict.fromkeys(normalize_language(lang) for _, lang in languages))
            for variant, gender in VARIANTS:
                voices.append(
                    Voice(
                        engine=self.name,
                        id=f"{base}+{variant}" if variant else base,
                        languages=tags,
                        sample_rate=self._sample_rate,
                        gender=gender or _GENDERS.get(entry.gender, Gender.UNSPECIFIED),
                        quality=Quality.FORMANT,
                        description=f"espeak-ng {entry.name.decode(errors='replace')}"
                        + (f", variant {variant}" if variant else ""),
                    )
                )
        return voices

    def _on_audio(self, wav, count: int, _events) -> int:
        """espeak-ng's synth callback: passes audio on; returning 1 aborts the synthesis."""
        job = self._job
        if job is None or job.cancelled:
            return 1
        if wav and count > 0:
            samples = np.ctypeslib.as_array(wav, shape=(count,))
            job.chunks.put(samples.astype(np.float32) / 32768.0)
        return 0

    def _run(self, job: _Job, text: bytes, voice_id: bytes, rate: float) -> None:
        """Synthesises one sentence on the worker thread, feeding ``job``."""
        try:
            lib = self._initialize()
            if lib.espeak_SetVoiceByName(voice_id) != 0:
                raise InvalidInput(f"espeak-ng has no voice {voice_id.decode()}")
            wpm = round(min(max(_NORMAL_WPM * rate, _MIN_WPM), _MAX_WPM))
            lib.espeak_SetParameter(_RATE_PARAMETER, wpm, 0)
            self._job = job
            status = lib.espeak_Synth(
                text, len(text), 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _ENDPAUSE, None, None
            )
            if status != 0 and not job.cancelled:
                raise EngineUnavailable(f"espeak-ng synthesis failed with status {status}")
        finally:
            self._job = None
            job.chunks.put(_END)

    def synthesize(
        self, text: str, voice: Voice, options: SynthesisOptions
    ) -> Iterator[np.ndarray]:
        job = _Job()
        data = text.encode("utf-8") + b"\0"
        done = self._worker.submit(self._run, job, data, voice.id.encode(), options.speaking_rate)
        try:
            while (chunk := job.chunks.get()) is not _END:
                yield chunk
            done.result()
        finally:
            job.cancelled = True

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)
