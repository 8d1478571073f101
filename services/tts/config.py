"""Settings of the TextToSpeechService: engines, voices, limits and threads."""

from __future__ import annotations

from dataclasses import dataclass, field

from parley.settings import SettingsError, option

ENGINE_NAMES = ("elevenlabs", "coqui", "piper", "pico", "espeak-ng")


@dataclass(frozen=True)
class TtsConfig:
    """Text-to-speech: engines, voices and limits."""

    tts_engines: str = field(
        default=",".join(ENGINE_NAMES),
        metadata=option(
            "PARLEY_TTS_ENGINES",
            "engines to enable, comma-separated, in order of preference among voices of the "
            "same quality (neural voices always rank above Pico, Pico above espeak-ng)",
        ),
    )
    tts_piper_voices: str = field(
        default="",
        metadata=option(
            "PARLEY_TTS_PIPER_VOICES",
            "extra folders of Piper voices (*.onnx with *.onnx.json), comma-separated",
        ),
    )
    tts_pico_lang_dir: str = field(
        default="/usr/share/pico/lang",
        metadata=option(
            "PARLEY_TTS_PICO_LANG_DIR", "folder of the SVOX Pico lingware (*_ta.bin, *_sg.bin)"
        ),
    )
    tts_coqui_checkpoint: str = field(
        default="",
        metadata=option(
            "PARLEY_TTS_COQUI_CHECKPOINT",
            "Coqui TTS model checkpoint (.pth) to load; empty disables Coqui",
        ),
    )
    tts_coqui_config: str = field(
        default="",
        metadata=option(
            "PARLEY_TTS_COQUI_CONFIG",
            "config.json of the Coqui checkpoint; empty means config.json beside it",
        ),
    )
    tts_coqui_language: str = field(
        default="",
        metadata=option(
            "PARLEY_TTS_COQUI_LANGUAGE",
            "language the Coqui model speaks; empty means the one its config names, else en",
        ),
    )
    tts_elevenlabs_api_key: str = field(
        default="",
        repr=False,
        metadata=option(
            "ELEVENLABS_API_KEY",
            "ElevenLabs API key; the engine is enabled only when it is set (prefer the "
            "environment variable to the flag)",
        ),
    )
    tts_elevenlabs_url: str = field(
        default="https://api.elevenlabs.io",
        metadata=option("PARLEY_TTS_ELEVENLABS_URL", "base URL of the ElevenLabs API"),
    )
    tts_elevenlabs_model: str = field(
        default="eleven_multilingual_v2",
        metadata=option("PARLEY_TTS_ELEVENLABS_MODEL", "ElevenLabs model_id to synthesise with"),
    )
    tts_max_text_chars: int = field(
        default=20_000,
        metadata=option(
            "PARLEY_TTS_MAX_TEXT_CHARS", "longest text accepted in one request, in characters"
        ),
    )
    tts_max_clip_bytes: int = field(
        default=8 * 1024 * 1024,
        metadata=option(
            "PARLEY_TTS_MAX_CLIP_BYTES",
            "largest audio a unary Synthesize answers with, in bytes (text length x rate x "
            "sample width decides); longer audio belongs to StreamingSynthesize",
        ),
    )
    tts_chunk_ms: int = field(
        default=100,
        metadata=option(
            "PARLEY_TTS_CHUNK_MS", "longest audio carried by one streamed message, in ms"
        ),
    )
    tts_speaker_voices: int = field(
        default=4,
        metadata=option(
            "PARLEY_TTS_SPEAKER_VOICES",
            "fewest voices a language's speakers are spread over (speaker_key): the best "
            "quality voices first, then the next best",
        ),
    )
    tts_threads: int = field(
        default=4,
        metadata=option("PARLEY_TTS_THREADS", "threads that run synthesis"),
    )
    tts_first_clause: bool = field(
        default=True,
        metadata=option(
            "PARLEY_TTS_FIRST_CLAUSE",
            "in a stream, speak the first clause of the first sentence on its own (cut at its "
            "first comma, the pause kept to a comma's) so that the first audio comes sooner; "
            "off: whole sentences",
        ),
    )
    tts_preload: bool = field(
        default=True,
        metadata=option(
            "PARLEY_TTS_PRELOAD",
            "load the default voices' models in the background once the server is serving",
        ),
    )

    @property
    def engines(self) -> tuple[str, ...]:
        """Enabled engine names, in order of preference."""
        return tuple(filter(None, (name.strip() for name in self.tts_engines.split(","))))

    @property
    def piper_folders(self) -> tuple[str, ...]:
        """Extra Piper voice folders."""
        return tuple(filter(None, (p.strip() for p in self.tts_piper_voices.split(","))))

    def validate(self) -> TtsConfig:
        """Returns self if the settings are usable.

        Raises:
            SettingsError: naming the setting that is wrong.
        """
        unknown = [name for name in self.engines if name not in ENGINE_NAMES]
        if unknown or not self.engines:
            raise SettingsError(
                f"PARLEY_TTS_ENGINES={self.tts_engines!r}: choose from {', '.join(ENGINE_NAMES)}"
            )
        for name, value, low in (
            ("PARLEY_TTS_MAX_TEXT_CHARS", self.tts_max_text_chars, 1),
            ("PARLEY_TTS_CHUNK_MS", self.tts_chunk_ms, 10),
            ("PARLEY_TTS_SPEAKER_VOICES", self.tts_speaker_voices, 1),
            ("PARLEY_TTS_THREADS", self.tts_threads, 1),
        ):
            if value < low:
                raise SettingsError(f"{name}={value} must be at least {low}")
        return self
