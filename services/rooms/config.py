"""Settings of the RoomService."""

from __future__ import annotations

from dataclasses import dataclass, field

from parley.settings import option


@dataclass(frozen=True)
class RoomsConfig:
    """Rooms: backend addresses, limits and delivery."""

    stt_address: str = field(
        default="",
        metadata=option(
            "PARLEY_STT_ADDRESS",
            "host:port of the SpeechToTextService; empty means this server (parley serve)",
        ),
    )
    translate_address: str = field(
        default="",
        metadata=option(
            "PARLEY_TRANSLATE_ADDRESS",
            "host:port of the TranslationService; empty means this server",
        ),
    )
    tts_address: str = field(
        default="",
        metadata=option(
            "PARLEY_TTS_ADDRESS", "host:port of the TextToSpeechService; empty means this server"
        ),
    )
    stt_model: str = field(
        default="",
        metadata=option(
            "PARLEY_ROOMS_STT_MODEL", "recognition model for rooms; empty means the STT default"
        ),
    )
    max_rooms: int = field(
        default=1000, metadata=option("PARLEY_ROOMS_MAX_ROOMS", "most rooms at once")
    )
    max_participants: int = field(
        default=50,
        metadata=option("PARLEY_ROOMS_MAX_PARTICIPANTS", "default most participants in one room"),
    )
    empty_timeout_s: float = field(
        default=300.0,
        metadata=option(
            "PARLEY_ROOMS_EMPTY_TIMEOUT_S", "default seconds an empty room lives before removal"
        ),
    )
    allow_create_on_join: bool = field(
        default=True,
        metadata=option(
            "PARLEY_ROOMS_ALLOW_CREATE_ON_JOIN",
            "let JoinRoom.create_if_missing create an unknown room",
        ),
    )
    outbox_audio_chunks: int = field(
        default=200,
        metadata=option(
            "PARLEY_ROOMS_OUTBOX_AUDIO_CHUNKS",
            "audio chunks queued for one listener before its oldest are dropped",
        ),
    )
    outbox_events: int = field(
        default=2000,
        metadata=option(
            "PARLEY_ROOMS_OUTBOX_EVENTS",
            "other events queued for one listener before it is disconnected as stalled",
        ),
    )
    backend_timeout_s: float = field(
        default=10.0,
        metadata=option(
            "PARLEY_ROOMS_BACKEND_TIMEOUT_S", "deadline of each translation or synthesis call"
        ),
    )
