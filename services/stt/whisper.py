"""faster-whisper engine: Whisper on CTranslate2, int8 on CPU, float16 on CUDA."""

from __future__ import annotations

import copy
import dataclasses
import threading
import time
from pathlib import Path

import numpy as np

from parley.errors import EngineUnavailable, UnsupportedLanguage, quoted
from parley.logs import get_logger
from parley.metrics import MODEL_LOAD_SECONDS, WINDOW_FALLBACKS
from services.stt.engine import (
    SAMPLE_RATE,
    TRANSLATE,
    ModelDescription,
    RecognitionOptions,
    Recognizer,
    Transcript,
    Word,
)
from services.stt.models import ModelSource, resolve_location
from services.stt.window import (
    FRAMES_PER_SECOND,
    FULL_FRAMES,
    WindowPolicy,
    suspect,
    token_budget,
    without_loops,
)

log = get_logger(__name__)

# faster-whisper's own defaults for joining punctuation to words.
PREPENDED = "\"'“¿([{-"
APPENDED = "\"'.。,，!！?？:：”)]}、"


def whisper_languages() -> tuple[str, ...]:
    """Every language code Whisper knows, before any model is loaded.

    faster-whisper lists them only in a private constant (``tokenizer._LANGUAGE_CODES``, or
    ``WhisperModel.supported_languages`` once a model is in memory); this is the one place that
    reads it (tests/stt/test_adapters.py checks it on upgrades).
    """
    from faster_whisper import tokenizer

    return tuple(sorted(tokenizer._LANGUAGE_CODES))


def cuda_available() -> bool:
    import ctranslate2

    return ctranslate2.get_cuda_device_count() > 0


def _unlooped(transcript: Transcript) -> Transcript:
    """The transcript with any decoding loop cut to its first pass (see without_loops)."""
    text = without_loops(transcript.text)
    if text == transcript.text:
        return transcript
    return dataclasses.replace(transcript, text=text, words=transcript.words[: len(text.split())])


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
        window: how much of Whisper's 30 s window each call encodes.
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
        window: WindowPolicy | None = None,
    ) -> None:
        self._source = source
        self._cache_dir = cache_dir
        self._device = device
        self._compute_type = compute_type
        self._cpu_threads = cpu_threads
        self._beam_size = max(1, beam_size)
        self.concurrency = max(1, workers)
        self._window = window or WindowPolicy()
        self._model = None
        self._lock = threading.Lock()
        self._languages = whisper_languages() if source.multilingual else ("en",)

    @property
    def description(self) -> ModelDescription:
        return ModelDescription(
            name=self._source.name,
            engine="faster-whisper",
            multilingual=self._source.multilingual,
            languages=tuple(self._languages),
            supports_translation=self._source.multilingual,
            source=self._source.location or "packaged",
            description=self._source.description,
        )

    def with_window(self, window: WindowPolicy) -> WhisperRecognizer:
        """The same model (loaded once, shared) with another window policy."""
        self.load()
        other = copy.copy(self)
        other._window = window
        return other

    @property
    def word_timings(self) -> bool:
        return True

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
            named = ", ".join(quoted(code) for code in unknown[:3])
            raise UnsupportedLanguage(
                f"model {self._source.name} does not recognise {named}"
                f"{f' and {len(unknown) - 3} more' if len(unknown) > 3 else ''}; "
                f"it knows {', '.join(self._languages)}"
            )
        if options.task == TRANSLATE and not self._source.multilingual:
            raise UnsupportedLanguage(
                f"model {self._source.name} is English-only and cannot translate; "
                "use a multilingual model such as whisper-base"
            )

    def _detect(self, encoded, candidates: tuple[str, ...]) -> tuple[str, float]:
        """The language of an encoded window; with candidates, the most likely of them, its
        probability renormalised over them."""
        ranked = [(token[2:-2], p) for token, p in self._model.model.detect_language(encoded)[0]]
        if candidates:
            allowed = [(code, p) for code, p in ranked if code in candidates]
            total = sum(p for _, p in allowed) or 1.0
            code, p = max(allowed, key=lambda item: item[1])
            return code, p / total
        return ranked[0]

    def transcribe(self, audio: np.ndarray, options: RecognitionOptions) -> Transcript:
        self.load()
        seconds = audio.shape[0] / SAMPLE_RATE
        if audio.shape[0] > FULL_FRAMES * SAMPLE_RATE // FRAMES_PER_SECOND:
            return self._long_form(audio, options)
        features = self._model.feature_extractor(audio)
        content = features.shape[-1] - 1  # the extractor pads one hop of silence
        window = self._window.frames(content)
        transcript, tokens = self._decode(features[:, :content], window, options, seconds)
        if window < FULL_FRAMES:
            reason = suspect(transcript.text, tokens, seconds, transcript.avg_logprob, self._window)
            # A partial is a preview, taken again in a moment: unclear speech is not worth a
            # second decode there (a loop still is: its words could agree).
            if reason is not None and not (options.partial and reason == "low_confidence"):
                WINDOW_FALLBACKS.labels(self._source.name, reason).inc()
                log.debug("fitted window distrusted", reason=reason, seconds=round(seconds, 2))
                transcript, _ = self._decode(features[:, :content], FULL_FRAMES, options, seconds)
        return _unlooped(transcript)

    def _decode(
        self, features: np.ndarray, window: int, options: RecognitionOptions, seconds: float
    ) -> tuple[Transcript, int]:
        """Encodes ``window`` frames (the features, padded) and decodes them greedily or with the
        beam, at most :func:`token_budget` tokens; returns the transcript and its token count."""
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens, merge_punctuations

        model = self._model
        encoded = model.encode(pad_or_trim(features, window))
        language, probability = options.language, 1.0
        if not self._source.multilingual:
            language = "en"
        elif language is None:
            language, probability = self._detect(encoded, options.candidate_languages)
        tokenizer = Tokenizer(
            model.hf_tokenizer, self._source.multilingual, task=options.task, language=language
        )
        previous = tokenizer.encode(" " + options.prompt.strip()) if options.prompt else []
        prompt = model.get_prompt(tokenizer, previous, without_timestamps=True)
        budget = token_budget(seconds)
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=1 if options.partial else self._beam_size,
            # CTranslate2 stops Whisper at half the max_length when the prompt is short.
            max_length=min(model.max_length, max(2 * budget, len(prompt) + budget)),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot][: budget + 1]
        words: tuple[Word, ...] = ()
        if options.word_timestamps and tokens:
            aligned = model.find_alignment(tokenizer, [tokens], encoded, features.shape[-1])[0]
            # Punctuation comes as words of its own: joined to its word, as Whisper writes it.
            merge_punctuations(aligned, PREPENDED, APPENDED)
            words = tuple(
                Word(w["word"].strip(), float(w["start"]), float(w["end"]), float(w["probability"]))
                for w in aligned
                if w["word"].strip()
            )
        # CTranslate2's score is the log-probability per token (length penalty 1).
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        text = tokenizer.decode(tokens).strip()
        transcript = Transcript(
            text, language, float(probability), words, avg_logprob, result.no_speech_prob
        )
        return transcript, len(tokens)

    def _long_form(self, audio: np.ndarray, options: RecognitionOptions) -> Transcript:
        """Audio over 30 s, which no utterance is: faster-whisper's own sliding windows."""
        segments, info = self._model.transcribe(
            audio,
            language=options.language if self._source.multilingual else "en",
            task=options.task,
            beam_size=1 if options.partial else self._beam_size,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=not options.word_timestamps,
            word_timestamps=options.word_timestamps,
            initial_prompt=options.prompt or None,
            vad_filter=False,
        )
        segments = list(segments)  # consumed here, in the worker thread: it does the decoding
        words = tuple(
            Word(w.word.strip(), w.start, w.end, w.probability)
            for segment in segments
            for w in (segment.words or ())
        )
        text = " ".join(s.text.strip() for s in segments).strip()
        return Transcript(text, info.language, float(info.language_probability), words)
