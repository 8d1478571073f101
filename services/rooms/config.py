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
            "host:port of the SpeechToTextService; empty means this server (parley serve); "
            "several IP host:port comma-separated, or dns:///NAME:PORT, are balanced round robin "
            "over the healthy ones",
        ),
    )
    translate_address: str = field(
        default="",
        metadata=option(
            "PARLEY_TRANSLATE_ADDRESS",
            "host:port of the TranslationService; empty means this server; a list or dns:/// "
            "name as for PARLEY_STT_ADDRESS",
        ),
    )
    tts_address: str = field(
        default="",
        metadata=option(
            "PARLEY_TTS_ADDRESS",
            "host:port of the TextToSpeechService; empty means this server; a list or dns:/// "
            "name as for PARLEY_STT_ADDRESS",
        ),
    )
    backend_api_key: str = field(
        default="",
        repr=False,
        metadata=option(
            "PARLEY_BACKEND_API_KEY",
            "API key sent to the engine services; empty means none, or one of this server's "
            "keys when it hosts them",
            metavar="KEY",
        ),
    )
    backend_ca_file: str = field(
        default="",
        metadata=option(
            "PARLEY_BACKEND_CA_FILE",
            "PEM CA that signed the engine services' certificates; when set, they are reached "
            "over TLS (needed when this server has TLS and hosts them)",
            metavar="PATH",
        ),
    )
    backend_cert_file: str = field(
        default="",
        metadata=option(
            "PARLEY_BACKEND_CERT_FILE",
            "PEM client certificate for engine services that require mutual TLS",
            metavar="PATH",
        ),
    )
    backend_key_file: str = field(
        default="",
        metadata=option(
            "PARLEY_BACKEND_KEY_FILE", "PEM private key of that client certificate", metavar="PATH"
        ),
    )
    backend_server_name: str = field(
        default="",
        metadata=option(
            "PARLEY_BACKEND_SERVER_NAME",
            "name the engine services' certificates must carry, when not their address's host",
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
    max_empty_timeout_s: float = field(
        default=86_400.0,
        metadata=option(
            "PARLEY_ROOMS_MAX_EMPTY_TIMEOUT_S", "longest empty-room timeout a room may ask for"
        ),
    )
    room_max_utterance_ms: int = field(
        default=15_000,
        metadata=option(
            "PARLEY_ROOMS_MAX_UTTERANCE_MS",
            "longest utterance a room may set, in ms (also the default); the STT service "
            "must accept it (its PARLEY_STT_MAX_UTTERANCE_MS at least as long)",
        ),
    )
    catch_up_after_s: float = field(
        default=0.75,
        metadata=option(
            "PARLEY_ROOMS_CATCH_UP_AFTER_S",
            "seconds of a language's translated speech its listeners may have still to hear "
            "when the speaker's next words come; a sentence that would leave more is spoken "
            "faster (up to --catch-up-rate); 0 never speeds speech up",
        ),
    )
    catch_up_rate: float = field(
        default=1.75,
        metadata=option(
            "PARLEY_ROOMS_CATCH_UP_RATE",
            "fastest speaking rate of translated speech while listeners catch up or would fall "
            "behind (python -m bench.rates, about 160 sentences a language: at 1.75x Whisper "
            "base mishears Pico's Spanish 0.01 more than at 1x, Piper's English 0.03 more and "
            "Pico's French, German and Italian 0.05-0.08 more)",
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
    join_audio_burst_s: float = field(
        default=30.0,
        metadata=option(
            "PARLEY_ROOMS_JOIN_AUDIO_BURST_S",
            "seconds of audio a participant may send ahead of real time; beyond that it is read "
            "at real-time pace and the participant gets a RATE_LIMITED notice; 0 for no limit",
        ),
    )
    join_first_message_timeout_s: float = field(
        default=10.0,
        metadata=option(
            "PARLEY_ROOMS_JOIN_FIRST_MESSAGE_TIMEOUT_S",
            "seconds a new Join stream may wait before its JoinRoom; then it ends with "
            "DEADLINE_EXCEEDED; 0 waits for ever",
        ),
    )
    drain_timeout_s: float = field(
        default=5.0,
        metadata=option(
            "PARLEY_ROOMS_DRAIN_TIMEOUT_S",
            "on shutdown, seconds the utterances in progress may take to reach their listeners "
            "before every room closes; keep it below PARLEY_SHUTDOWN_GRACE_S",
        ),
    )
    backend_timeout_s: float = field(
        default=10.0,
        metadata=option(
            "PARLEY_ROOMS_BACKEND_TIMEOUT_S", "deadline of each translation or synthesis call"
        ),
    )
    redis_url: str = field(
        default="",
        repr=False,  # may carry a password
        metadata=option(
            "PARLEY_ROOMS_REDIS_URL",
            "redis:// URL of the Redis that room-service replicas share (rooms, participants, "
            "events), so that one room spans replicas; empty keeps rooms in this process",
            metavar="URL",
        ),
    )
    replica_timeout_s: float = field(
        default=5.0,
        metadata=option(
            "PARLEY_ROOMS_REPLICA_TIMEOUT_S",
            "with Redis: seconds without a heartbeat after which a replica counts as dead and its "
            "participants are announced as disconnected",
        ),
    )
