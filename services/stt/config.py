"""Settings of the SpeechToTextService."""

from __future__ import annotations

from dataclasses import dataclass, field

from parley.settings import SettingsError, option

TURN_TRANSCRIPT = "smart-turn+transcript"  # Smart Turn and the early transcript agree


@dataclass(frozen=True)
class SttConfig:
    """Speech-to-text: models, loading and endpointing defaults."""

    default_model: str = field(
        default="whisper-base",
        metadata=option("PARLEY_STT_MODEL", "model used when a request names none"),
    )
    models: str = field(
        default="",
        metadata=option(
            "PARLEY_STT_MODELS",
            "extra Whisper models as name=folder-or-hub-id, comma-separated "
            "(CTranslate2 format; a hub id needs a machine that is online)",
        ),
    )
    preload: str = field(
        default="background",
        metadata=option(
            "PARLEY_STT_PRELOAD",
            "when to load the default model: at start (start), in the background once "
            "serving (background), or on first use (lazy)",
            choices=("start", "background", "lazy"),
        ),
    )
    device: str = field(
        default="auto",
        metadata=option(
            "PARLEY_STT_DEVICE",
            "cpu, cuda, or auto (cuda when present)",
            choices=("auto", "cpu", "cuda"),
        ),
    )
    compute_type: str = field(
        default="auto",
        metadata=option(
            "PARLEY_STT_COMPUTE_TYPE",
            "CTranslate2 compute type; auto means int8 on CPU and float16 on CUDA",
        ),
    )
    cpu_threads: int = field(
        default=0,
        metadata=option("PARLEY_STT_CPU_THREADS", "threads per inference; 0 means every core"),
    )
    workers: int = field(
        default=1,
        metadata=option(
            "PARLEY_STT_WORKERS",
            "recognitions one Whisper model runs at once (each with --cpu-threads threads); "
            "finals still go before partials",
        ),
    )
    beam_size: int = field(
        default=5,
        metadata=option(
            "PARLEY_STT_BEAM_SIZE",
            "beam width for final results (1 is greedy; partials always are); with the fitted "
            "window 5 costs about what greedy does and mishears short noisy clips less",
        ),
    )
    window: str = field(
        default="fit",
        metadata=option(
            "PARLEY_STT_WINDOW",
            "how much of Whisper's 30 s window each call encodes: fit (the audio plus a margin; "
            "output that looks wrong is decoded again with the full window) or full (always "
            "30 s, as Whisper itself does)",
            choices=("fit", "full"),
        ),
    )
    window_margin_ms: int = field(
        default=1000,
        metadata=option(
            "PARLEY_STT_WINDOW_MARGIN_MS", "silence after the audio in a fitted window, in ms"
        ),
    )
    window_min_ms: int = field(
        default=10_000,
        metadata=option(
            "PARLEY_STT_WINDOW_MIN_MS",
            "the shortest fitted window, in ms (shorter ones make Whisper loop more often: at "
            "6000, python -m bench.stt_window fell back to the full window for 75 of 480 "
            "utterances, not 51, and Italian's WER was 0.03 over the full window's)",
        ),
    )
    cache_dir: str = field(
        default="",
        metadata=option(
            "PARLEY_CACHE_DIR",
            "folder for joined model files; empty means $XDG_CACHE_HOME/parley or ~/.cache/parley",
        ),
    )
    min_silence_ms: int = field(
        default=500,
        metadata=option(
            "PARLEY_STT_MIN_SILENCE_MS",
            "silence that ends an utterance when PARLEY_STT_TURN is off, in ms (a stream that "
            "sets endpointing.min_silence_ms gets silence alone, that long)",
        ),
    )
    early_ms: int = field(
        default=200,
        metadata=option(
            "PARLEY_STT_EARLY_MS",
            "silence after which recognition starts before the end is confirmed (its result is "
            "dropped if speech resumes); 0 waits for the full silence",
        ),
    )
    commit: str = field(
        default="sentence",
        metadata=option(
            "PARLEY_STT_COMMIT",
            "when a stream's text is final: each sentence (a long one in clauses) as soon as "
            "two decodes agree on it, while the speaker goes on (sentence), or the whole "
            "utterance after the endpointing silence (utterance); RecognitionConfig.commit "
            "chooses per stream",
            choices=("sentence", "utterance"),
        ),
    )
    turn: str = field(
        default="off",
        metadata=option(
            "PARLEY_STT_TURN",
            "what ends an utterance: silence alone (off: --min-silence-ms of it); the Smart "
            "Turn end-of-turn model (smart-turn: a turn it judges finished ends after "
            "--turn-check-ms of silence, an unfinished one after --turn-max-silence-ms); or "
            "Smart Turn and the transcript together (smart-turn+transcript: a turn ends early "
            "only if Smart Turn judges it finished and the recognition started after "
            "--early-ms of silence ends a sentence, with . ? or !)",
            choices=("off", "smart-turn", TURN_TRANSCRIPT),
        ),
    )
    turn_threshold: float = field(
        default=0.5,
        metadata=option(
            "PARLEY_STT_TURN_THRESHOLD",
            "Smart Turn probability from which a pause ends the turn",
        ),
    )
    turn_check_ms: int = field(
        default=200,
        metadata=option(
            "PARLEY_STT_TURN_CHECK_MS",
            "silence after which Smart Turn judges whether the turn is complete, in ms",
        ),
    )
    turn_max_silence_ms: int = field(
        default=1000,
        metadata=option(
            "PARLEY_STT_TURN_MAX_SILENCE_MS",
            "silence that ends a turn judged unfinished, in ms",
        ),
    )
    turn_model: str = field(
        default="",
        metadata=option(
            "PARLEY_STT_TURN_MODEL",
            "a Smart Turn v3 ONNX file; empty for v3.2 as packaged in the pipecat-ai wheel",
        ),
    )
    max_utterance_ms: int = field(
        default=15_000,
        metadata=option(
            "PARLEY_STT_MAX_UTTERANCE_MS",
            "longest utterance, in ms (at most 30000, Whisper's window); a stream may ask for "
            "shorter ones, not longer",
        ),
    )
    max_silence_ms: int = field(
        default=5_000,
        metadata=option(
            "PARLEY_STT_MAX_SILENCE_MS", "longest endpointing silence a stream may ask for, in ms"
        ),
    )
    max_audio_s: float = field(
        default=900.0,
        metadata=option(
            "PARLEY_STT_MAX_AUDIO_S",
            "longest audio one Recognize call may carry, in seconds (longer files: stream them)",
        ),
    )
    partial_interval_ms: int = field(
        default=700,
        metadata=option(
            "PARLEY_STT_PARTIAL_INTERVAL_MS",
            "new speech between two partial hypotheses, in ms",
        ),
    )
    stt_audio_burst_s: float = field(
        default=120.0,
        metadata=option(
            "PARLEY_STT_AUDIO_BURST_S",
            "seconds of audio a stream may send ahead of real time; beyond that the server "
            "reads it at real-time pace (the sender is slowed, nothing is lost); 0 for no limit",
        ),
    )
    stt_first_message_timeout_s: float = field(
        default=10.0,
        metadata=option(
            "PARLEY_STT_FIRST_MESSAGE_TIMEOUT_S",
            "seconds a new stream may wait before its RecognitionConfig; then it ends with "
            "DEADLINE_EXCEEDED; 0 waits for ever",
        ),
    )
    openai_model: str = field(
        default="whisper-1",
        metadata=option(
            "PARLEY_STT_OPENAI_MODEL",
            "model of the OpenAI speech-to-text API, offered as openai:<model> when "
            "OPENAI_API_KEY is set",
        ),
    )
    openai_base_url: str = field(
        default="https://api.openai.com/v1",
        metadata=option("OPENAI_BASE_URL", "base URL of the OpenAI-compatible API"),
    )

    def validate(self) -> SttConfig:
        """Returns self if the settings are usable.

        Raises:
            SettingsError: naming the setting that is wrong.
        """
        if not 1000 <= self.max_utterance_ms <= 30_000:
            raise SettingsError(
                f"PARLEY_STT_MAX_UTTERANCE_MS={self.max_utterance_ms}: use 1000-30000 (Whisper "
                "hears at most 30 s at once)"
            )
        if self.min_silence_ms > self.max_silence_ms:
            raise SettingsError(
                "PARLEY_STT_MIN_SILENCE_MS is longer than PARLEY_STT_MAX_SILENCE_MS"
            )
        return self
