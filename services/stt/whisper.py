"""faster-whisper engine: Whisper on CTranslate2, int8 on CPU, float16 on CUDA."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from parley.errors import EngineUnavailable, UnsupportedLanguage
from parley.logs import get_logger
from parley.metrics import MODEL_LOAD_SECONDS
from services.stt.engine import (
    TRANSLATE,
    ModelDescription,
    RecognitionOptions,
    Recognizer,
    Transcript,
    Word,
)
from services.stt.models import ModelSource, resolve_location

log = get_logger(__name__)


def whisper_languages() -> tuple[str, ...]:
    """Every language code Whisper knows."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return tuple(sorted(_LANGUAGE_CODES))


class _EncodeOnce:
    """Remembers the last encoder output of a WhisperModel.

    To detect a language, Whisper encodes the first 30-second window, then encodes it again to
    decode. Detecting on exactly the window ``transcribe`` will encode, with this wrapper in
    place of ``WhisperModel.encode``, makes the second encoding a lookup: one encoder pass per
    utterance instead of two (about a third of the recognition time of ``base`` on a CPU).
    """

    def __init__(self, encode) -> None:
        self._encode = encode
        self._lock = threading.Lock()
        self._last: tuple[np.ndarray, object] | None = None

    def __call__(self, features: np.ndarray):
        with self._lock:
            if self._last is not None and np.array_equal(self._last[0], features):
                return self._last[1]
        output = self._encode(features)
        with self._lock:
            self._last = (np.array(features, copy=True), output)
        return output


def cuda_available() -> bool:
    import ctranslate2

    return ctranslate2.get_cuda_device_count() > 0


class WhisperRecognizer(Recognizer):
    """One Whisper model, loaded once and shared by every stream.

    Args:
        source: where the model comes from.
        cache_dir: folder for joined packaged weights.
        device: ``cpu``, ``cuda`` or ``auto``.
        compute_type: CTranslate2 compute type or ``auto``.
        cpu_threads: threads per inference (0: every core).
        beam_size: beam width for final results; partials are always greedy.
        workers: calls the model may run at once (CTranslate2 ``inter_threads``).
    """

    def __init__(
        self,
        source: ModelSource,
        cache_dir: Path,
        device: str = "auto",
        compute_type: str = "auto",
        cpu_threads: int = 0,
        beam_size: int = 1,
        workers: int = 1,
    ) -> None:
        self._source = source
        self._cache_dir = cache_dir
        self._device = device
        self._compute_type = compute_type
        self._cpu_threads = cpu_threads
        self._beam_size = max(1, beam_size)
        self.concurrency = max(1, workers)
        self._model = None
        self._lock = threading.Lock()
        self._languages = whisper_languages() if source.multilingual else ("en",)

    @property
    def description(self) -> ModelDescription:
        return ModelDescription(
            name=self._source.name,
            engine="faster-whisper",
            multilingual=self._source.multilingual,
            languages=() if self._source.multilingual else ("en",),
            supports_translation=self._source.multilingual,
            source=self._source.location or "packaged",
            description=self._source.description,
        )

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            from faster_whisper import WhisperModel

            device = self._device
            if device == "auto":
                device = "cuda" if cuda_available() else "cpu"
            compute = self._compute_type
            if compute == "auto":
                compute = "float16" if device == "cuda" else "int8"
            location = resolve_location(self._source, self._cache_dir)
            started = time.perf_counter()
            try:
                self._model = WhisperModel(
                    location,
                    device=device,
                    compute_type=compute,
                    cpu_threads=self._cpu_threads,
                    num_workers=self.concurrency,
                )
            except Exception as exc:  # ctranslate2 and the hub raise many kinds
                raise EngineUnavailable(
                    f"cannot load Whisper model {self._source.name} from {location}: {exc}"
                ) from exc
            self._model.encode = _EncodeOnce(self._model.encode)
            load_s = time.perf_counter() - started
            MODEL_LOAD_SECONDS.labels("stt", self._source.name).set(load_s)
            log.info(
                "model loaded",
                model=self._source.name,
                device=device,
                compute=compute,
                load_s=round(load_s, 2),
            )

    def check(self, options: RecognitionOptions) -> None:
        wanted = [options.language] if options.language else list(options.candidate_languages)
        unknown = [code for code in wanted if code not in self._languages]
        if unknown:
            raise UnsupportedLanguage(
                f"model {self._source.name} does not recognise {', '.join(unknown)}; "
                f"it knows {', '.join(self._languages)}"
            )
        if options.task == TRANSLATE and not self._source.multilingual:
            raise UnsupportedLanguage(
                f"model {self._source.name} is English-only and cannot translate; "
                "use a multilingual model such as whisper-base"
            )

    def _detect(self, audio: np.ndarray, candidates: tuple[str, ...]) -> tuple[str, float]:
        """Detects the language on the window transcribe() will encode next (see _EncodeOnce).

        With candidates, the most likely of them wins, its probability renormalised over them.
        """
        from faster_whisper.audio import pad_or_trim

        model = self._model
        features = model.feature_extractor(audio)
        window = features[:, : min(model.feature_extractor.nb_max_frames, features.shape[-1] - 1)]
        encoded = model.encode(pad_or_trim(window))
        ranked = [(token[2:-2], p) for token, p in model.model.detect_language(encoded)[0]]
        if candidates:
            allowed = [(code, p) for code, p in ranked if code in candidates]
            total = sum(p for _, p in allowed) or 1.0
            code, p = max(allowed, key=lambda item: item[1])
            return code, p / total
        return ranked[0]

    def transcribe(self, audio: np.ndarray, options: RecognitionOptions) -> Transcript:
        self.load()
        language, probability = options.language, 1.0
        if not self._source.multilingual:
            language = "en"
        elif language is None and audio.shape[0] <= 30 * 16_000:
            language, probability = self._detect(audio, options.candidate_languages)
        segments, info = self._model.transcribe(
            audio,
            language=language,
            task=options.task,
            beam_size=1 if options.partial else self._beam_size,
            # One temperature: the fallback ladder can retry a clip many times (seconds).
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=not options.word_timestamps,
            word_timestamps=options.word_timestamps,
            initial_prompt=options.prompt or None,
            vad_filter=False,
        )
        # Consumed here, in the worker thread: the generator does the decoding.
        segments = list(segments)
        words = tuple(
            Word(w.word.strip(), w.start, w.end, w.probability)
            for segment in segments
            for w in (segment.words or ())
        )
        text = " ".join(s.text.strip() for s in segments).strip()
        if language is None:  # over 30 s: Whisper detected it on the first window
            language, probability = info.language, info.language_probability
        return Transcript(text, language or info.language, float(probability), words)
